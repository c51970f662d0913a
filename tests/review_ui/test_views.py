import pytest
from django.test import Client
from django.urls import reverse

from review_ui.models import Ad, AuditEvent, Decision, ReviewItem
from tests.review_ui.conftest import PASSWORD, make_item

pytestmark = pytest.mark.django_db


def pages(ad_id: int, item_id: int) -> list[str]:
    return [
        reverse("review_ui:queue"),
        reverse("review_ui:ad", args=[ad_id]),
        reverse("review_ui:snapshot", args=[ad_id]),
        reverse("review_ui:audit"),
        reverse("admin:index"),
    ]


def test_anonymous_visitors_are_sent_to_login_from_every_page(flagged):
    client = Client()
    item = ReviewItem.objects.get()
    for url in pages(flagged.ad_id, item.pk):
        response = client.get(url)
        assert response.status_code == 302, url
        assert "/login/" in response["Location"], url


def test_an_anonymous_decision_changes_nothing(flagged):
    item = ReviewItem.objects.get()
    response = Client().post(reverse("review_ui:decide", args=[item.pk]), {"decision": "confirmed"})
    assert response.status_code == 302
    assert ReviewItem.objects.get().status == "pending"


def test_login_page_is_chinese_by_default(db):
    response = Client().get(reverse("login"))
    assert response.status_code == 200
    assert "登录" in response.content.decode()


def test_an_officer_logs_in_and_sees_the_queue_highest_score_first(officer):
    # Two different ads (the same text twice would be one ad reposted: one review item).
    make_item(url="http://127.0.0.1/low", title="低分广告", score=0.71,
              text="暑假英语口语营，外教小班，报名从速。")
    make_item(url="http://127.0.0.1/high", title="高分广告", score=0.99)
    client = Client()
    response = client.post(reverse("login"), {"username": "officer1", "password": PASSWORD})
    assert response.status_code == 302
    page = client.get(reverse("review_ui:queue")).content.decode()
    assert page.index("高分广告") < page.index("低分广告")


def test_the_ad_page_shows_evidence_contacts_and_snapshot(officer_client, flagged):
    page = officer_client.get(reverse("review_ui:ad", args=[flagged.ad_id])).content.decode()
    assert "<mark>一对一辅导</mark>" in page and "<mark>提分</mark>" in page
    assert "13912345678" in page and "tutor_abc" in page
    assert Ad.objects.get().raw_sha256 in page
    assert AuditEvent.objects.filter(action="ad.viewed").count() == 1


def test_the_snapshot_is_served_as_inert_text(officer_client):
    result = make_item(raw_body=b"<html><script>alert(1)</script></html>")
    response = officer_client.get(reverse("review_ui:snapshot", args=[result.ad_id]))
    assert response["Content-Type"].startswith("text/plain")
    assert "sandbox" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"


def test_an_officer_decision_is_recorded_with_an_audit_row(officer_client, officer, flagged):
    item = ReviewItem.objects.get()
    response = officer_client.post(
        reverse("review_ui:decide", args=[item.pk]), {"decision": "confirmed", "note": "周末补课"}
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.status == "confirmed"
    decision = Decision.objects.get()
    assert (decision.officer, decision.note) == (officer, "周末补课")
    event = AuditEvent.objects.get(action="item.decided")
    assert event.actor == officer and event.detail["decision"] == "confirmed"


def test_a_second_decision_on_a_decided_item_changes_nothing(officer_client, flagged):
    item = ReviewItem.objects.get()
    url = reverse("review_ui:decide", args=[item.pk])
    officer_client.post(url, {"decision": "confirmed"})
    response = officer_client.post(url, {"decision": "dismissed"}, follow=True)
    assert "该条目已被处理" in response.content.decode()
    assert ReviewItem.objects.get().status == "confirmed"
    assert Decision.objects.count() == 1


def test_a_decision_without_csrf_token_is_refused(officer, flagged):
    client = Client(enforce_csrf_checks=True)
    client.force_login(officer)
    item = ReviewItem.objects.get()
    response = client.post(reverse("review_ui:decide", args=[item.pk]), {"decision": "confirmed"})
    assert response.status_code == 403
    assert ReviewItem.objects.get().status == "pending"


def test_an_outsider_cannot_decide(outsider_client, flagged):
    item = ReviewItem.objects.get()
    response = outsider_client.post(reverse("review_ui:decide", args=[item.pk]), {"decision": "confirmed"})
    assert response.status_code == 403
    assert ReviewItem.objects.get().status == "pending"


def test_an_invalid_decision_is_a_400(officer_client, flagged):
    item = ReviewItem.objects.get()
    response = officer_client.post(reverse("review_ui:decide", args=[item.pk]), {"decision": "delete"})
    assert response.status_code == 400
    assert ReviewItem.objects.get().status == "pending"


def test_deciding_needs_post(officer_client, flagged):
    item = ReviewItem.objects.get()
    assert officer_client.get(reverse("review_ui:decide", args=[item.pk])).status_code == 405


def test_unknown_ids_are_404(officer_client, db):
    assert officer_client.get(reverse("review_ui:ad", args=[999])).status_code == 404
    response = officer_client.post(reverse("review_ui:decide", args=[999]), {"decision": "confirmed"})
    assert response.status_code == 404


def test_an_unknown_status_filter_is_a_400(officer_client):
    assert officer_client.get(reverse("review_ui:queue"), {"status": "x"}).status_code == 400


PAYLOAD = '<script>alert("xss")</script><img src=x onerror=alert(1)>'


def test_an_ad_carrying_script_renders_inert(officer_client):
    result = make_item(
        url="http://127.0.0.1/post/x?a=<script>", title=f"标题{PAYLOAD}", text=f"正文{PAYLOAD}",
        phones=[], wechat_ids=[PAYLOAD],
        verdict={"score": 0.9, "label": 1, "category": PAYLOAD, "evidence": ["<script>", "正文"],
                 "model_version": "m"},
    )
    for url in (reverse("review_ui:queue"), reverse("review_ui:ad", args=[result.ad_id]),
                reverse("review_ui:audit")):
        page = officer_client.get(url).content.decode()
        assert "<script>alert" not in page, url
        assert "<img src=x" not in page, url
    page = officer_client.get(reverse("review_ui:ad", args=[result.ad_id])).content.decode()
    assert "&lt;script&gt;" in page


def test_span_evidence_highlights_exactly_its_characters(officer_client):
    text = "数学很好。周末补 习班，数学一对一"
    result = make_item(
        title="初二 s x 辅导", text=text,
        verdict={"score": 0.9, "label": 1, "category": "open_tutoring", "model_version": "m",
                 "evidence": [
                     {"start": 7, "end": 10, "text": "补 习", "weight": 2.0, "field": "text"},
                     {"start": 3, "end": 6, "text": "s x", "weight": 1.0, "field": "title"},
                 ]},
    )
    page = officer_client.get(reverse("review_ui:ad", args=[result.ad_id])).content.decode()
    assert "周末<mark>补 习</mark>班" in page
    assert "初二 <mark>s x</mark> 辅导" in page
    # the other "数学" in the text is not evidence and stays plain
    assert "<mark>数学</mark>" not in page
