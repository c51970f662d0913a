"""A review item's copy of its ad's current score (``ReviewItem.score``, issue 22 point 4): kept
in step when the item is made and when its ad gets a new verdict, and the queue's score orders,
which read it and narrow themselves to a page's range of scores, give the rows that sorting
every item by the ad's verdict gave."""

from __future__ import annotations

import pytest
from django.db.models import F
from django.db.models.functions import Abs

from review_ui.models import Ad, ReviewItem, Verdict
from review_ui.ordering import NEWEST, SCORE, UNCERTAIN, model_threshold, ordered
from tests.review_ui.conftest import make_item
from tests.review_ui.test_million_generator import million

pytestmark = pytest.mark.django_db


def verdict(score: float, version: str = "test-model") -> dict:
    return {"score": score, "label": 1, "category": "open_tutoring", "evidence": ["一对一辅导"],
            "model_version": version}


def test_a_queued_item_carries_its_ads_score():
    stored = make_item(score=0.81)
    assert ReviewItem.objects.get(ad_id=stored.ad_id).score == 0.81


def test_a_new_verdict_moves_the_score_of_a_pending_and_of_a_decided_item():
    pending = make_item("http://127.0.0.1/post/1", score=0.81)
    decided = make_item("http://127.0.0.1/post/2", score=0.9)
    ReviewItem.objects.filter(ad_id=decided.ad_id).update(status=ReviewItem.Status.CONFIRMED)

    make_item("http://127.0.0.1/post/1", verdict=verdict(0.62, "another-model"))
    make_item("http://127.0.0.1/post/2", verdict=verdict(0.71, "another-model"))
    assert ReviewItem.objects.get(ad_id=pending.ad_id).score == 0.62
    assert ReviewItem.objects.get(ad_id=decided.ad_id).score == 0.71
    assert ReviewItem.objects.get(ad_id=decided.ad_id).status == ReviewItem.Status.CONFIRMED


def test_an_item_made_by_hand_takes_its_ads_score(settings):
    settings.TUTORWATCH_SAMPLE_RATE = 0
    stored = make_item(score=0.31, label=0)  # not flagged: no item
    assert not ReviewItem.objects.exists()
    made = ReviewItem.objects.create(ad=Ad.objects.get(pk=stored.ad_id))
    assert made.score == 0.31
    assert ReviewItem.objects.get(pk=made.pk).score == 0.31


def by_the_ads_verdict(items, order: str):
    """The orders as they were before the item kept a score (through the ad's verdict) and
    before "newest first" looked among the newest ads."""
    if order == NEWEST:
        return items.order_by("-ad__first_seen_at", "-pk")
    if order == UNCERTAIN:
        distance = Abs(F("ad__verdict__score") - model_threshold())
        return items.alias(distance=distance).order_by(
            F("distance").asc(nulls_last=True), "-priority", "-pk")
    return items.order_by(F("ad__verdict__score").desc(nulls_last=True), "-priority", "-pk")


@pytest.fixture
def store_with_ties(settings):
    """The generator's small store, with scores shared by several items (on both sides of the
    threshold and at it), equal priorities among them, and items whose ad has no verdict."""
    settings.TUTORWATCH_FLAG_THRESHOLD = 0.7
    million().fill(400, clients=3, sources=6)
    items = list(ReviewItem.objects.order_by("pk"))
    for n, item in enumerate(items[:120]):
        score = [0.7, 0.75, 0.65, 0.9, 0.55][n % 5]
        Verdict.objects.filter(ad_id=item.ad_id).update(score=score)
        ReviewItem.objects.filter(pk=item.pk).update(
            score=score, priority=1.0 if n % 3 else item.priority)
    for item in items[120:130]:
        Ad.objects.filter(pk=item.ad_id).update(verdict=None)
        ReviewItem.objects.filter(pk=item.pk).update(score=None)
    assert ReviewItem.objects.filter(score=F("ad__verdict__score")).count() == len(items) - 10


@pytest.mark.parametrize(("order", "probe"), [(SCORE, 4), (UNCERTAIN, 4), (NEWEST, 4),
                                              (NEWEST, 1)])
def test_the_narrowed_orders_read_the_rows_the_full_sort_read(store_with_ties, order, probe,
                                                               monkeypatch):
    # probe 1: "newest first" starts from as many ads as rows read, and must look further
    monkeypatch.setattr("review_ui.ordering.NEWEST_PROBE", probe)
    tabs = [ReviewItem.objects.filter(status=status) for status in
            ("pending", "confirmed", "dismissed", "escalated")]
    tabs += [ReviewItem.objects.all(), ReviewItem.objects.filter(ad__source__name__endswith="3"),
             ReviewItem.objects.filter(score__gte=0.7)]
    for items in tabs:
        expected = list(by_the_ads_verdict(items, order).values_list("pk", flat=True))
        assert list(ordered(items, order).values_list("pk", flat=True)) == expected
        for rows in (1, 2, 5, 26, 51, len(expected), len(expected) + 1):
            narrowed = ordered(items, order, rows=rows).values_list("pk", flat=True)
            assert list(narrowed[:rows]) == expected[:rows], (order, rows)
        for start in (0, 25, 50):  # the queue's pages: page n reads rows up to n * 25 + 1
            narrowed = ordered(items, order, rows=start + 26).values_list("pk", flat=True)
            assert list(narrowed[start:start + 26]) == expected[start:start + 26]
