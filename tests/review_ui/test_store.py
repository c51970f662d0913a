import pytest

from review_ui import queue
from review_ui.models import Ad, AppendOnlyError, AuditEvent, CrawlRun, ReviewItem, Verdict
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
    assert ReviewItem.objects.get().priority == 0.97


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
    event.action = "tampered"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()


def test_a_crawl_run_is_recorded_with_its_stats():
    run_id = queue.start_run({"name": "test_site", "kind": "html"}, "/tmp/test_site.yaml")
    make_item()
    run = queue.finish_run(run_id, {
        "response_received_count": 5, "item_scraped_count": 3, "tutorwatch/items/stored/new": 2,
        "tutorwatch/items/flagged": 1, "log_count/ERROR": 0,
    }, "finished")
    assert run.status == CrawlRun.Status.FINISHED
    assert (run.pages, run.items, run.new_ads, run.flagged) == (5, 3, 2, 1)
    assert run.source.config_path == "/tmp/test_site.yaml"
