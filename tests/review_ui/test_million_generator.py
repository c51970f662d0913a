"""The million-ad generator (benchmarks/million.py) on a few hundred ads: its rows agree with
each other as the application's would, and the streamed case export starts after a bounded
number of queries (issue 22, point 4)."""

from __future__ import annotations

import csv
import importlib.util
import io
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from review_ui.models import (
    Ad,
    AdContact,
    AuditEvent,
    Case,
    Decision,
    DuplicateGroup,
    ReviewItem,
    Verdict,
    priority,
)

ROOT = Path(__file__).resolve().parents[2]


def million():
    spec = importlib.util.spec_from_file_location("bench_million",
                                                  ROOT / "benchmarks" / "million.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def filled(db):
    return million().fill(400, clients=3, sources=6)


def test_the_generated_rows_are_consistent(filled):
    counts = filled["counts"]
    assert counts["Ad"] == counts["Verdict"] == 400
    ads = {ad.pk: ad for ad in Ad.objects.select_related("verdict", "source")}
    now = timezone.now()
    assert all(now - timedelta(days=5 * 366) < ad.fetched_at <= now for ad in ads.values())
    assert len({ad.source_id for ad in ads.values()}) > 3
    assert len({ad.url for ad in ads.values()}) == 400
    assert all(ad.verdict.ad_id == ad.pk for ad in ads.values())
    # Contacts: the index rows are the ads' phones and WeChat ids, and contact_shares counts
    # the other ads carrying one of them.
    rows = Counter((c.ad_id, c.kind, c.value) for c in AdContact.objects.all())
    expected = Counter([(ad.pk, "phone", p) for ad in ads.values() for p in ad.phones]
                       + [(ad.pk, "wechat", w) for ad in ads.values() for w in ad.wechat_ids])
    assert rows == expected and len(rows) > 200
    for ad in ads.values():
        assert ad.contact_shares == ad.sharing_ads().count(), ad.pk
    assert max(ad.contact_shares for ad in ads.values()) >= 3
    # Groups of copies: two ads each, the same text; the review item is on the first.
    groups = Counter(ad.duplicate_group_id for ad in ads.values() if ad.duplicate_group_id)
    assert groups and set(groups.values()) <= {1, 2}
    assert DuplicateGroup.objects.count() >= len(groups)
    items = {item.pk: item for item in ReviewItem.objects.all()}
    for item in items.values():
        ad = ads[item.ad_id]
        assert ad.verdict.label and ad.verdict.score >= 0.5
        assert not (ad.duplicate_group_id and ad.pk % 10 == 0), "a copy has its own item"
        assert item.priority == pytest.approx(
            priority(ad.verdict.score, item.created_at, ad.contact_shares))
        assert item.created_at == ad.fetched_at
        assert item.score == ad.verdict.score
    assert set(Counter(i.status for i in items.values())) == {
        "pending", "confirmed", "escalated", "dismissed"}
    # Decisions: one per decided item, saying what the item says; cases on escalations.
    decisions = {d.item_id: d for d in Decision.objects.all()}
    for item in items.values():
        if item.status == "pending":
            assert item.pk not in decisions and item.decided_at is None
            continue
        decision = decisions[item.pk]
        assert (decision.decision, decision.reason, decision.officer_id, decision.decided_at) \
            == (item.status, item.reason, item.decided_by_id, item.decided_at)
        assert item.reason and item.decided_at > item.created_at
        assert (item.case_id is not None) == (item.status == "escalated") \
            == (decision.case_id is not None)
    assert Case.objects.count() >= 1
    # The audit log: an item.decided row per decision, chained by pk; a new row chains on.
    events = list(AuditEvent.objects.order_by("pk"))
    decided = [e for e in events if e.action == "item.decided"]
    assert sorted(e.item_id for e in decided) == sorted(decisions)
    assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:], strict=False))
    last = AuditEvent.record(None, "bench.check")
    assert last.prev_hash == events[-1].hash
    assert Verdict.objects.filter(ad_id__in=list(ads)).count() == 400


def test_the_case_export_streams_after_a_bounded_number_of_queries(filled, officer_client):
    confirmed = ReviewItem.objects.filter(status="confirmed").count()
    assert confirmed > 20
    with CaptureQueriesContext(connection) as before_first_rows:
        response = officer_client.get(reverse("review_ui:export_cases", args=["csv"]),
                                      {"status": "confirmed"})
        chunks = iter(response.streaming_content)
        header = next(chunks)
        first_rows = next(chunks)
    # Session, user, permissions, the filter form, the item query: not one per row.
    assert len(before_first_rows) <= 15, [q["sql"][:80] for q in before_first_rows]
    assert header.startswith("\ufeff".encode()) and first_rows.count(b"\n") >= 20
    body = header + first_rows + b"".join(chunks)
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert len(rows) == confirmed + 1
    event = AuditEvent.objects.get(action="cases.exported")
    assert event.detail == {"format": "csv", "rows": confirmed,
                            "filters": {"status": "confirmed"}}
