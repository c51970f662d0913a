"""Retention (review_ui.retention, ``tutorwatch purge``): the content of ads nobody flagged,
sampled or decided goes after TUTORWATCH_RETAIN_UNFLAGGED_DAYS; the rest stays; every purge is
audited; a purged ad crawled again unchanged stays purged."""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from review_ui.models import Ad, AdContact, AuditEvent, ReviewItem
from review_ui.retention import purge
from review_ui.scheduling import PURGE, RETENTION, CrawlScheduler, purge_command
from review_ui.store.ingest import ingest
from tests.review_ui.conftest import make_item

pytestmark = pytest.mark.django_db


def _age(ad_id: int, days: int) -> None:
    Ad.objects.filter(pk=ad_id).update(first_seen_at=timezone.now() - timedelta(days=days))


def _unflagged(n: int, phone: str = "13700000001", days: int = 100) -> int:
    ad_id = make_item(url=f"http://127.0.0.1/post/u{n}", label=0, score=0.1,
                      phones=[phone]).ad_id
    _age(ad_id, days)
    return ad_id


def test_it_purges_the_content_of_old_unflagged_ads_and_keeps_the_rest():
    old = _unflagged(1)
    young = _unflagged(2, days=10)
    flagged = make_item(url="http://127.0.0.1/post/f1").ad_id
    _age(flagged, 200)
    sampled = _unflagged(3)
    ReviewItem.objects.create(ad_id=sampled, sample=True, sample_rate=0.03)
    before = Ad.objects.get(pk=old)
    assert before.text and before.raw_page and before.phones
    assert AdContact.objects.filter(ad_id=old).exists()
    # The young one shares the old one's phone and everyone's WeChat id: after the purge, one
    # ad fewer shares a contact with it.
    assert Ad.objects.get(pk=young).contact_shares == 3

    report = purge(90)

    assert report.ad_ids == [old]
    ad = Ad.objects.get(pk=old)
    assert (ad.title, ad.text, bytes(ad.raw_page), ad.phones, ad.wechat_ids, ad.contact_raw) == (
        "", "", b"", [], [], "")
    assert ad.purged_at is not None and ad.verdict.evidence == []
    # Row, hashes, dates and score stay for the statistics.
    assert (ad.url, ad.raw_sha256, ad.text_sha256, ad.fetched_at, ad.posted_at) == (
        before.url, before.raw_sha256, before.text_sha256, before.fetched_at, before.posted_at)
    assert ad.verdict.score == before.verdict.score
    assert not AdContact.objects.filter(ad_id=old).exists()
    assert Ad.objects.get(pk=young).contact_shares == 2
    for kept in (young, flagged, sampled):
        assert Ad.objects.get(pk=kept).text and Ad.objects.get(pk=kept).purged_at is None
    event = AuditEvent.objects.get(action="ads.purged")
    assert event.detail["ads"] == [old] and event.detail["days"] == 90
    assert event.detail["by"] == "command" and event.detail["contacts"] == 2
    assert purge(90).ads == 0  # purged once
    assert AuditEvent.objects.filter(action="ads.purged").count() == 1


def test_a_copy_of_a_queued_ad_is_kept():
    text = "高中物理暑期集训，名师授课，小班教学，报名从速。地址见详情"
    flagged = make_item(url="http://127.0.0.1/post/q1", text=text).ad_id
    copy = make_item(url="http://127.0.0.1/post/q2", text=text, label=0, score=0.2).ad_id
    assert Ad.objects.get(pk=copy).duplicate_group_id == Ad.objects.get(
        pk=flagged).duplicate_group_id is not None
    _age(copy, 100)
    assert purge(90).ads == 0


def test_a_dry_run_counts_and_changes_nothing():
    old = _unflagged(1)
    out = StringIO()
    call_command("purge", "--dry-run", stdout=out)
    assert "would purge the page, text and contacts of 1 ads" in out.getvalue()
    assert Ad.objects.get(pk=old).text and Ad.objects.get(pk=old).purged_at is None
    assert not AuditEvent.objects.filter(action="ads.purged").exists()
    call_command("purge", "--scheduled", stdout=out)
    assert AuditEvent.objects.get(action="ads.purged").detail["by"] == "scheduler"


def test_the_command_refuses_a_retention_that_is_off(settings):
    settings.TUTORWATCH_RETAIN_UNFLAGGED_DAYS = 0
    with pytest.raises(CommandError, match="retention period is off") as raised:
        call_command("purge")
    assert raised.value.returncode == 2
    out = StringIO()
    call_command("purge", "--scheduled", stdout=out)  # the scheduler's run: a note, no error
    assert "nothing purged" in out.getvalue()


def _recrawl(ad: Ad, text: str, label: int = 0) -> None:
    ingest([{
        "url": ad.url, "source": "test_site", "title": "小学数学一对一辅导", "body_text": text,
        "fetched_at": timezone.now().isoformat(), "phones": ["13700000001"],
        "raw_body": b"<html>raw again</html>",
        "verdict": {"score": 0.9 if label else 0.1, "label": label, "category": "",
                    "evidence": [], "model_version": "test-model"},
    }])


def test_a_purged_ad_crawled_again_unchanged_stays_purged_and_a_changed_one_is_stored():
    old = _unflagged(1)
    text = Ad.objects.get(pk=old).text
    purge(90)
    _recrawl(Ad.objects.get(pk=old), text)
    ad = Ad.objects.get(pk=old)
    assert ad.purged_at is not None and ad.text == "" and ad.phones == []
    assert not AdContact.objects.filter(ad_id=old).exists()

    _recrawl(ad, text + "\n新增：初中数学")
    ad = Ad.objects.get(pk=old)
    assert ad.purged_at is None and "初中数学" in ad.text and ad.phones == ["13700000001"]


def test_a_purged_ad_that_a_model_now_flags_is_stored_again():
    old = _unflagged(1)
    text = Ad.objects.get(pk=old).text
    purge(90)
    _recrawl(Ad.objects.get(pk=old), text, label=1)
    ad = Ad.objects.get(pk=old)
    assert ad.purged_at is None and ad.text == text
    assert ReviewItem.objects.filter(ad_id=old).exists()


def test_the_scheduler_runs_the_purge_on_its_cron(tmp_path):
    marker = tmp_path / "purged"
    scheduler = CrawlScheduler({}, purge_schedule="15 4 * * *", purge=lambda: [
        sys.executable, "-c", f"open({str(marker)!r}, 'w').write('done')"])
    assert scheduler.plan() == [(RETENTION, PURGE, "15 4 * * *")]
    assert purge_command()[-2:] == ["purge", "--scheduled"]
    scheduler.request(RETENTION, PURGE)
    deadline = time.monotonic() + 20
    while RETENTION in scheduler.running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.read_text() == "done"
    assert scheduler.started == [(RETENTION, PURGE)]
