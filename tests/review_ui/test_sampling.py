"""The exploration sample (issue 16 point 5): a share of the new ads the model does not flag is
queued, marked as a sample with the rate it was drawn at, ranked among the borderline flags."""

from __future__ import annotations

import pytest

from review_ui.models import AuditEvent, ReviewItem
from review_ui.store.review_items import drawn, item_priority
from tests.review_ui.conftest import make_item

pytestmark = pytest.mark.django_db


def unflagged(n: int, prefix: str = "u") -> None:
    for i in range(n):
        make_item(url=f"http://127.0.0.1/{prefix}{i}", title=f"家政保洁 {i}", score=0.1, label=0)


def test_rate_one_queues_every_unflagged_ad_as_a_sample(settings):
    settings.TUTORWATCH_SAMPLE_RATE = 1.0
    settings.TUTORWATCH_FLAG_THRESHOLD = 0.6
    unflagged(5)
    make_item(url="http://127.0.0.1/flagged", title="初中数学一对一", score=0.95)
    samples = ReviewItem.objects.filter(sample=True)
    assert samples.count() == 5 and set(samples.values_list("sample_rate", flat=True)) == {1.0}
    flagged = ReviewItem.objects.get(sample=False)
    assert flagged.ad.url == "http://127.0.0.1/flagged"
    # Ranked as an ad scoring at the threshold would be, not by its own score of 0.1.
    for row in samples:
        assert row.priority == pytest.approx(item_priority(row.ad, 0.6))
        assert row.priority > item_priority(row.ad, 0.1) + 0.4
        assert row.priority < flagged.priority
    assert AuditEvent.objects.filter(action="item.queued", detail__sample=True).count() == 5


def test_rate_zero_queues_no_sample(settings):
    settings.TUTORWATCH_SAMPLE_RATE = 0.0
    unflagged(20)
    assert not ReviewItem.objects.exists()


def test_the_share_drawn_follows_the_rate_and_the_same_ads_on_every_try(settings):
    urls = [f"http://127.0.0.1/post/{i}" for i in range(20000)]
    share = sum(drawn(url, 0.03) for url in urls) / len(urls)
    assert 0.027 < share < 0.033
    assert [drawn(url, 0.03) for url in urls[:500]] == [drawn(url, 0.03) for url in urls[:500]]


def test_an_ad_seen_again_is_not_drawn_again_and_a_sample_keeps_its_rank(settings):
    settings.TUTORWATCH_SAMPLE_RATE = 1.0
    settings.TUTORWATCH_FLAG_THRESHOLD = 0.6
    make_item(url="http://127.0.0.1/seen", title="家政保洁", score=0.1, label=0)
    item = ReviewItem.objects.get()
    make_item(url="http://127.0.0.1/seen", title="家政保洁 开荒", score=0.05, label=0,
              fetched_at="2026-11-20T10:00:00+08:00")
    assert ReviewItem.objects.count() == 1
    item.refresh_from_db()
    assert item.sample and item.priority == pytest.approx(item_priority(item.ad, 0.6))


def test_a_pending_sample_is_shown_without_the_models_opinion(settings, officer_client, officer):
    from django.urls import reverse

    settings.TUTORWATCH_SAMPLE_RATE = 1.0
    make_item(url="http://127.0.0.1/drawn", title="周末读书会 亲子共读", score=0.123, label=0)
    item = ReviewItem.objects.get()
    queue = officer_client.get(reverse("review_ui:queue")).content.decode()
    assert "抽样" in queue and "0.12" not in queue
    page = officer_client.get(reverse("review_ui:ad", args=[item.ad_id])).content.decode()
    assert "探查抽样" in page and "0.123" not in page

    item.decide(officer, "dismissed", reason="non_subject")
    page = officer_client.get(reverse("review_ui:ad", args=[item.ad_id])).content.decode()
    assert "0.123" in page and "探查抽样" not in page
