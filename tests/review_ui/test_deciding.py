"""Deciding from the ad page (issue 20 point 1): no decision chosen in advance, the reason
suggested from the model's category, refused decisions shown on the form with the note kept,
a reloaded decide address back on the ad page, and "save and next" opening the next pending
item of the officer's queue filter."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from review_ui.models import Case, Decision, ReviewItem
from review_ui.reasons import DISMISSAL_CODES, VIOLATION_CODES
from tests.review_ui.conftest import CONFIRM, make_item


def _form(page: str) -> str:
    match = re.search(r'<form[^>]*class="decide".*?</form>', page, re.S)
    assert match, "no decision form on the page"
    return match.group(0)


def _selected(form: str, name: str) -> list[str]:
    select = re.search(rf'<select[^>]*name="{name}".*?</select>', form, re.S).group(0)
    return re.findall(r'<option value="([^"]*)" selected', select)


def _ad_page(client, ad_id: int, query: str = "") -> str:
    url = reverse("review_ui:ad", args=[ad_id]) + (f"?{query}" if query else "")
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_no_decision_is_chosen_and_the_models_violation_form_is_suggested(officer_client,
                                                                          flagged):
    form = _form(_ad_page(officer_client, flagged.ad_id))
    assert _selected(form, "decision") == []
    assert _selected(form, "reason") == ["open_tutoring"]
    # The codes of each kind, for the page's script to offer only the chosen decision's reasons.
    select = re.search(r'<select[^>]*name="reason"[^>]*>', form).group(0)
    violation = re.search(r'data-violation="([^"]*)"', select).group(1).split()
    dismissal = re.search(r'data-dismissal="([^"]*)"', select).group(1).split()
    assert set(violation) == VIOLATION_CODES and set(dismissal) == DISMISSAL_CODES


def test_a_dismissal_category_is_not_suggested_nor_is_a_samples(officer_client, db):
    adult = make_item(url="http://127.0.0.1/adult",
                      verdict={"score": 0.6, "label": 1, "category": "adult", "evidence": [],
                               "model_version": "test-model"})
    assert _selected(_form(_ad_page(officer_client, adult.ad_id)), "reason") == []
    sample = make_item(url="http://127.0.0.1/sample")
    ReviewItem.objects.filter(ad_id=sample.ad_id).update(sample=True)
    assert _selected(_form(_ad_page(officer_client, sample.ad_id)), "reason") == []


def test_a_decision_without_a_chosen_decision_is_refused_on_the_form(officer_client, flagged):
    item = ReviewItem.objects.get()
    response = officer_client.post(reverse("review_ui:decide", args=[item.pk]),
                                   {"reason": "open_tutoring", "note": "忘了选"})
    assert response.status_code == 400
    assert "该字段是必填项" in _form(response.content.decode())
    assert ReviewItem.objects.get().status == "pending" and not Decision.objects.exists()


@pytest.mark.parametrize("data, field, words", [
    ({"decision": "dismissed", "reason": "open_tutoring"}, "reason", "排除"),
    ({"decision": "escalated", "reason": "online", "case": "TW2026-99999"}, "case",
     "没有这个编号的案件"),
])
def test_a_refused_decision_shows_the_ad_page_with_the_error_and_the_note(
    officer_client, flagged, data, field, words
):
    item = ReviewItem.objects.get()
    note = "家长举报，周末在小区内上课 <b>x</b>"
    response = officer_client.post(reverse("review_ui:decide", args=[item.pk]),
                                   {**data, "note": note, "queue": "source=test_site"})
    assert response.status_code == 400
    page = response.content.decode()
    form = _form(page)
    assert "处理决定未保存" in form and 'class="errorlist' in form
    assert words in re.search(r'<ul class="errorlist[^>]*>.*?</ul>', form, re.S).group(0)
    # The ad is still shown, the note and choices typed are kept (escaped), the filter too.
    assert "小学数学一对一辅导" in page
    assert "家长举报，周末在小区内上课 &lt;b&gt;x&lt;/b&gt;" in form
    assert _selected(form, "decision") == [data["decision"]]
    assert 'name="queue" value="source=test_site"' in form
    assert ReviewItem.objects.get().status == "pending"
    assert not Decision.objects.exists() and not Case.objects.exists()


def test_a_get_of_the_decide_address_opens_the_ad_page(officer_client, flagged):
    item = ReviewItem.objects.get()
    response = officer_client.get(reverse("review_ui:decide", args=[item.pk]))
    assert response.status_code == 302
    assert response.url == reverse("review_ui:ad", args=[flagged.ad_id])
    assert officer_client.put(reverse("review_ui:decide", args=[item.pk])).status_code == 405
    assert officer_client.get(reverse("review_ui:decide", args=[999])).status_code == 404


def test_an_outsider_get_of_the_decide_address_is_refused(outsider_client, flagged):
    item = ReviewItem.objects.get()
    assert outsider_client.get(reverse("review_ui:decide", args=[item.pk])).status_code == 403


def _three(db):
    """Three pending items, scores (so priorities) descending, one from another source."""
    top = make_item(url="http://127.0.0.1/top", title="初三数学 周末一对一", score=0.98)
    middle = make_item(url="http://127.0.0.1/middle", title="英语 小班", score=0.90,
                       source="other_site")
    low = make_item(url="http://127.0.0.1/low", title="托管 作业辅导", score=0.80)
    return top, middle, low


def test_save_and_next_opens_the_next_pending_item_of_the_filter(officer_client, db):
    top, middle, low = _three(db)
    # The queue's links carry its filter.
    queue = officer_client.get(reverse("review_ui:queue"), {"source": "test_site"})
    link = reverse("review_ui:ad", args=[top.ad_id]) + "?queue=source%3Dtest_site"
    assert link in queue.content.decode()
    page = _ad_page(officer_client, top.ad_id, "queue=source%3Dtest_site")
    assert 'name="queue" value="source=test_site"' in _form(page)
    assert 'href="/?source=test_site" class="back-to-queue"' in page

    item = ReviewItem.objects.get(ad_id=top.ad_id)
    response = officer_client.post(reverse("review_ui:decide", args=[item.pk]),
                                   {**CONFIRM, "queue": "source=test_site"}, follow=True)
    # The middle item is of another source: the next of this filter is the low one.
    assert response.redirect_chain[-1][0] == (reverse("review_ui:ad", args=[low.ad_id])
                                              + "?queue=source%3Dtest_site")
    message = [str(m) for m in response.context["messages"]]
    assert message == ["处理决定已记录：已确认（公开补习）。"], message
    assert ReviewItem.objects.get(pk=item.pk).status == "confirmed"

    # The last of the filter: back to the queue, filter kept, saying nothing is left.
    last = ReviewItem.objects.get(ad_id=low.ad_id)
    response = officer_client.post(reverse("review_ui:decide", args=[last.pk]),
                                   {"decision": "dismissed", "reason": "pure_care",
                                    "queue": "source=test_site"})
    assert response.url == "/?source=test_site"
    response = officer_client.get(response.url)
    messages = [str(m) for m in response.context["messages"]]
    assert "此筛选条件下已没有待审核的条目。" in messages


def test_save_and_next_skips_items_another_officer_claimed(officer_client, second_officer, db):
    top, middle, low = _three(db)
    ReviewItem.objects.get(ad_id=middle.ad_id).claim(second_officer)
    item = ReviewItem.objects.get(ad_id=top.ad_id)
    response = officer_client.post(reverse("review_ui:decide", args=[item.pk]),
                                   {"decision": "escalated", "reason": "open_tutoring",
                                    "queue": ""})
    assert response.url == reverse("review_ui:ad", args=[low.ad_id])
    case = Case.objects.get()
    response = officer_client.get(response.url)
    assert (f"处理决定已记录：已升级（公开补习）；案件编号 {case.number}。"
            in [str(m) for m in response.context["messages"]])


def test_a_forged_queue_filter_is_ignored(officer_client, db):
    top, middle, low = _three(db)
    item = ReviewItem.objects.get(ad_id=top.ad_id)
    response = officer_client.post(reverse("review_ui:decide", args=[item.pk]),
                                   {**CONFIRM, "queue": "score_min=abc&x=//evil.example"})
    assert response.url == reverse("review_ui:ad", args=[middle.ad_id])
    page = _ad_page(officer_client, middle.ad_id, "queue=" + "a" * 3000)
    assert 'name="queue" value=""' in _form(page)


def test_a_posted_next_and_a_form_without_the_filter_keep_their_old_destinations(
    officer_client, db
):
    top, middle, low = _three(db)
    first = ReviewItem.objects.get(ad_id=top.ad_id)
    response = officer_client.post(reverse("review_ui:decide", args=[first.pk]), CONFIRM)
    assert response.url == reverse("review_ui:queue")
    second = ReviewItem.objects.get(ad_id=middle.ad_id)
    response = officer_client.post(reverse("review_ui:decide", args=[second.pk]),
                                   {**CONFIRM, "queue": "", "next": "/work/"})
    assert response.url == "/work/"


def test_next_and_previous_links_follow_the_filters_order(officer_client, db):
    top, middle, low = _three(db)
    page = _ad_page(officer_client, middle.ad_id)
    links = dict(re.findall(r'<a href="([^"]*)" rel="(next|prev)"', page))
    assert links == {reverse("review_ui:ad", args=[low.ad_id]): "next",
                     reverse("review_ui:ad", args=[top.ad_id]): "prev"}
    page = _ad_page(officer_client, top.ad_id, "queue=source%3Dtest_site")
    found = re.findall(r'<a href="([^"]*)" rel="(next|prev)"', page)
    assert [(urlsplit(href).path, rel) for href, rel in found] == [
        (reverse("review_ui:ad", args=[low.ad_id]), "next")]
    assert parse_qs(urlsplit(found[0][0]).query) == {"queue": ["source=test_site"]}


def test_the_page_documents_its_shortcuts_and_has_a_skip_link(officer_client, flagged):
    page = _ad_page(officer_client, flagged.ad_id)
    assert '<a class="skip-link" href="#ad-text">跳到广告正文</a>' in page
    assert 'id="ad-text"' in page
    assert "键盘快捷键" in page and "<kbd>j</kbd>" in page and "<kbd>n</kbd>" in page
    assert re.search(r'<script src="[^"]*review_ui/decide\.js" defer>', page)


def test_claiming_keeps_the_queue_filter(officer_client, flagged):
    item = ReviewItem.objects.get()
    page = _ad_page(officer_client, flagged.ad_id, "queue=region%3D%E9%95%BF%E6%B2%99")
    claim = re.search(r'<form[^>]*class="claim".*?</form>', page, re.S).group(0)
    assert 'name="queue" value="region=%E9%95%BF%E6%B2%99"' in claim
    response = officer_client.post(reverse("review_ui:claim", args=[item.pk]),
                                   {"queue": "region=%E9%95%BF%E6%B2%99"})
    assert response.url == (reverse("review_ui:ad", args=[flagged.ad_id])
                            + "?queue=region%3D%25E9%2595%25BF%25E6%25B2%2599")
    assert ReviewItem.objects.get().claimed_by is not None
