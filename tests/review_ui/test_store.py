import pytest

from review_ui import runs
from review_ui.models import (
    Ad,
    AdContact,
    AppendOnlyError,
    AuditEvent,
    CrawlRun,
    ReviewItem,
    Verdict,
    priority,
)
from review_ui.store import ingest
from tests.review_ui.conftest import make_item

pytestmark = pytest.mark.django_db


def test_a_flagged_ad_is_stored_and_queued_once():
    first = make_item()
    assert first.outcome == "new" and first.flagged and first.queued
    again = make_item()
    assert again.outcome == "unchanged" and not again.queued
    assert Ad.objects.count() == 1 and ReviewItem.objects.count() == 1
    assert Verdict.objects.count() == 1


def test_changed_text_updates_the_ad_and_writes_a_new_verdict():
    make_item()
    result = make_item(text="改了内容：周末数学小班", score=0.97)
    assert result.outcome == "updated"
    ad = Ad.objects.get()
    assert ad.text == "改了内容：周末数学小班"
    assert ad.verdict.score == 0.97 and Verdict.objects.count() == 2
    item = ReviewItem.objects.get()
    assert item.priority == priority(0.97, ad.posted_at, ad.contact_shares)


def test_an_ad_not_flagged_is_stored_but_not_queued():
    result = make_item(label=0, score=0.1)
    assert not result.flagged and not result.queued
    assert ReviewItem.objects.count() == 0 and Ad.objects.count() == 1


def test_the_raw_page_is_kept_with_its_sha256():
    import hashlib

    make_item()
    ad = Ad.objects.get()
    assert bytes(ad.raw_page) == b"<html>raw</html>"
    assert ad.raw_sha256 == hashlib.sha256(b"<html>raw</html>").hexdigest()


def test_the_audit_log_is_append_only():
    make_item()
    event = AuditEvent.objects.first()
    original = event.action
    event.action = "tampered"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="tampered")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).action == original


def test_a_crawl_run_is_recorded_with_its_stats():
    run_id = runs.start_run({"name": "test_site", "kind": "html"}, "/tmp/test_site.yaml")
    make_item()
    run = runs.finish_run(run_id, {
        "response_received_count": 5, "item_scraped_count": 3, "tutorwatch/items/stored/new": 2,
        "tutorwatch/items/flagged": 1, "log_count/ERROR": 0,
    }, "finished")
    assert run.status == CrawlRun.Status.FINISHED
    assert (run.pages, run.items, run.new_ads, run.flagged) == (5, 3, 2, 1)
    assert run.source.config_path == "/tmp/test_site.yaml"


def test_the_region_is_stored_when_the_item_has_one_and_kept_when_a_recrawl_has_none():
    make_item(region="长沙-雨花区")
    assert Ad.objects.get().region == "长沙-雨花区"
    make_item(text="改了内容")
    assert Ad.objects.get().region == "长沙-雨花区"


def test_ads_sharing_a_phone_or_wechat_id_count_each_other():
    a = make_item(url="http://127.0.0.1/a", phones=["13900000001"], wechat_ids=[])
    b = make_item(url="http://127.0.0.1/b", phones=["13900000001"], wechat_ids=["shared_wx"])
    c = make_item(url="http://127.0.0.1/c", phones=[], wechat_ids=["shared_wx"])
    make_item(url="http://127.0.0.1/d", phones=["13700000000"], wechat_ids=["alone_wx"])
    shares = dict(Ad.objects.values_list("url", "contact_shares"))
    assert shares == {"http://127.0.0.1/a": 1, "http://127.0.0.1/b": 2,
                      "http://127.0.0.1/c": 1, "http://127.0.0.1/d": 0}
    assert set(Ad.objects.get(pk=b.ad_id).sharing_ads().values_list("pk", flat=True)) == {
        a.ad_id, c.ad_id}
    # The ad that shares most now outranks the others of the same score and date.
    order = list(ReviewItem.objects.order_by("-priority").values_list("ad__url", flat=True))
    assert order[0] == "http://127.0.0.1/b"


def test_a_recrawl_that_drops_a_contact_updates_the_counts():
    make_item(url="http://127.0.0.1/a", phones=["13900000001"], wechat_ids=[])
    make_item(url="http://127.0.0.1/b", phones=["13900000001"], wechat_ids=[])
    make_item(url="http://127.0.0.1/b", text="换了号码", phones=["13900000002"], wechat_ids=[])
    assert set(Ad.objects.values_list("contact_shares", flat=True)) == {0}
    assert AdContact.objects.filter(value="13900000001").count() == 1


def test_priority_weighs_score_sharing_and_freshness():
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    assert priority(0.9, now, 0) > priority(0.8, now, 0)
    assert priority(0.8, now, 3) > priority(0.8, now, 0)
    assert priority(0.8, now, 0) > priority(0.8, now - timedelta(days=7), 0)
    # A month older costs as much as 0.1 of score.
    older = priority(0.9, now - timedelta(days=30), 0)
    assert abs(older - priority(0.8, now, 0)) < 1e-9


def _abort_first_tries(monkeypatch, error, tries):
    """Make the first ``tries`` stores fail the way Django reports ``error`` from the driver."""
    from django.db import OperationalError

    real, calls = ingest._ingest_batch, []

    def flaky(items, run_id):
        calls.append([item["url"] for item in items])
        result = real(items, run_id)  # the writes happen, then the transaction is aborted
        if len(calls) <= tries:
            raise OperationalError(str(error)) from error
        return result

    monkeypatch.setattr(ingest, "_ingest_batch", flaky)
    monkeypatch.setattr(ingest.time, "sleep", lambda seconds: None)
    return calls


def test_a_store_aborted_to_break_a_deadlock_is_tried_again_and_kept_once(monkeypatch):
    import psycopg.errors

    calls = _abort_first_tries(monkeypatch, psycopg.errors.DeadlockDetected("deadlock detected"), 2)
    result = make_item()
    assert len(calls) == 3 and result.outcome == "new" and result.queued
    assert Ad.objects.count() == 1 and ReviewItem.objects.count() == 1
    assert AuditEvent.objects.filter(action="ad.created").count() == 1


def test_other_database_errors_are_not_retried(monkeypatch):
    from django.db import OperationalError

    calls = _abort_first_tries(monkeypatch, RuntimeError("server closed the connection"), 1)
    with pytest.raises(OperationalError):
        make_item()
    assert len(calls) == 1 and Ad.objects.count() == 0


def test_a_store_that_keeps_deadlocking_gives_up(monkeypatch):
    import psycopg.errors
    from django.db import OperationalError

    calls = _abort_first_tries(monkeypatch, psycopg.errors.DeadlockDetected("deadlock"), 99)
    with pytest.raises(OperationalError):
        make_item()
    assert len(calls) == ingest.INGEST_ATTEMPTS and Ad.objects.count() == 0
