"""The queue explains itself (issue 20 point 3): its order stated and selectable, each line's
priority with its reasons, scores shown as a risk band and a probability that tells flagged ads
apart, sources by their description, tab counts that follow the officer's own decision at
once, and reversals of an officer's decisions on their work page with the supervisor's note."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from review_ui.models import Ad, ReviewItem, Source
from review_ui.queue_explain import percent, shown_score
from review_ui.views import COUNTS_CACHE_KEY
from tests.review_ui.conftest import CONFIRM, make_item


def _titles(html: str) -> list[str]:
    return re.findall(r'<td><a href="/ads/\d+/[^"]*"[^>]*>([^<]+)</a></td>', html)


@pytest.mark.parametrize(("score", "shown"), [
    (0.97, "97%"), (0.9973, "99.7%"), (0.999926, "99.993%"), (1.0, "100%"), (0.5, "50%"),
    (0.0004, "0.04%"), (0.0, "0%"), (0.9999999, "100.000%"),
])
def test_probabilities_keep_the_decimals_that_tell_flagged_ads_apart(score, shown):
    assert percent(score) == shown


def test_scores_are_banded_against_the_models_threshold():
    assert [shown_score(s, 0.6).band for s in (0.95, 0.8, 0.7, 0.59)] == [
        "high", "high", "medium", "low"]


def test_the_queue_states_its_order_and_offers_each(officer_client, db):
    # The shared contacts raise "shared" above "alone" in priority; its score is lower.
    for i in range(4):
        make_item(url=f"http://127.0.0.1/shared/{i}", title=f"共用 {i}", score=0.90,
                  phones=["13811112222"], wechat_ids=[])
    make_item(url="http://127.0.0.1/alone", title="单独 高分", score=0.99, phones=[],
              wechat_ids=[], text="只此一家，提分快")
    Ad.objects.filter(url="http://127.0.0.1/alone").update(
        first_seen_at=timezone.now() - timedelta(days=400))

    html = officer_client.get(reverse("review_ui:queue")).content.decode()
    assert "优先级 = 模型得分" in html
    assert _titles(html)[-1] == "单独 高分"
    reasons = re.search(r'<ul class="priority-reasons">(.*?)</ul>', html, re.S).group(1)
    assert "3 条广告共用联系方式（+0.20）" in reasons and "得分 90%" in reasons
    for label in ("得分高的在前", "最新发现的在前", "最能帮助模型学习的在前"):
        assert label in html

    by_score = officer_client.get(reverse("review_ui:queue"), {"order": "score"})
    assert _titles(by_score.content.decode())[0] == "单独 高分"
    assert "仅按模型判断广告违规的概率排序" in by_score.content.decode()
    newest = _titles(officer_client.get(reverse("review_ui:queue"),
                                        {"order": "newest"}).content.decode())
    assert newest[-1] == "单独 高分" and newest[0] == "共用 3"


def test_scores_show_a_band_and_a_probability_and_samples_stay_hidden(officer_client, db):
    make_item(url="http://127.0.0.1/a", title="甲", score=0.999926)
    make_item(url="http://127.0.0.1/b", title="乙", score=0.9973)
    sample = make_item(url="http://127.0.0.1/s", title="丙", score=0.12)
    ReviewItem.objects.filter(ad_id=sample.ad_id).update(sample=True)
    html = officer_client.get(reverse("review_ui:queue")).content.decode()
    assert "99.993%" in html and "99.7%" in html and "高风险" in html
    row = re.search(r"<tr[^>]*>(?:(?!</tr>).)*丙(?:(?!</tr>).)*</tr>", html, re.S).group(0)
    assert "12%" not in row and "低风险" not in row and "探索抽样" in row


def test_sources_are_shown_by_their_description(officer_client, db):
    make_item(url="http://127.0.0.1/d", title="描述")
    Source.objects.filter(name="test_site").update(config={"description": "测试 · 本地论坛"})
    html = officer_client.get(reverse("review_ui:queue")).content.decode()
    assert "<td>测试 · 本地论坛</td>" in html
    assert re.search(r'<option value="test_site"[^>]*>测试 · 本地论坛</option>', html)
    assert "<td>test_site</td>" not in html


def test_the_officers_own_decision_updates_the_tab_counts_at_once(officer_client, settings, db):
    settings.TUTORWATCH_QUEUE_COUNTS_SECONDS = 3600
    cache.delete(COUNTS_CACHE_KEY)
    for i in range(3):
        make_item(url=f"http://127.0.0.1/c/{i}", title=f"计数 {i}")
    assert "待审核 (3)" in officer_client.get(reverse("review_ui:queue")).content.decode()
    item = ReviewItem.objects.order_by("pk").first()
    officer_client.post(reverse("review_ui:decide", args=[item.pk]), CONFIRM)
    # The queue may be served by another worker, whose figures predate the decision.
    cache.set(COUNTS_CACHE_KEY, {"pending": 3}, 3600)
    html = officer_client.get(reverse("review_ui:queue")).content.decode()
    assert "待审核 (2)" in html and "已确认 (1)" in html


def test_an_officer_reads_the_reversal_of_their_decision_with_the_note(
        officer_client, second_officer_client, supervisor, officer, flagged):
    item = ReviewItem.objects.get()
    made = item.decide(officer, **CONFIRM)
    item.reverse(supervisor, "dismissed", "只是兴趣班，不属于学科类", reason="adult",
                 reverses=made.pk)
    html = officer_client.get(reverse("review_ui:work")).content.decode()
    section = re.search(r'<section class="reversals".*?</section>', html, re.S).group(0)
    assert "您的决定被改判" in section and "只是兴趣班，不属于学科类" in section
    assert "supervisor1" in section and "已确认" in section and "已排除" in section
    other = second_officer_client.get(reverse("review_ui:work")).content.decode()
    assert "您的决定被改判" not in other


def test_the_api_takes_the_new_orders_too(officer, db):
    from rest_framework.test import APIClient

    make_item(url="http://127.0.0.1/old-high", score=0.99, phones=[], wechat_ids=[])
    make_item(url="http://127.0.0.1/new-low", score=0.70, phones=[], wechat_ids=[])
    Ad.objects.filter(url="http://127.0.0.1/old-high").update(
        first_seen_at=timezone.now() - timedelta(days=30))
    client = APIClient()
    client.force_authenticate(officer)
    by_score = client.get(reverse("api:items"), {"order": "score"}).json()["results"]
    newest = client.get(reverse("api:items"), {"order": "newest"}).json()["results"]
    assert [row["score"] for row in by_score] == [0.99, 0.70]
    assert [row["score"] for row in newest] == [0.70, 0.99]
