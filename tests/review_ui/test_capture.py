"""Screenshots of flagged ads: the captures the store asks for, the worker that takes them
(with Debian's Chromium against a site on 127.0.0.1), the ad page and the API.

The requests need no browser; the worker's tests are skipped without Chromium."""

from __future__ import annotations

import hashlib
import shutil
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from review_ui import capture, evidence, runs
from review_ui.models import Ad, AuditEvent, ReviewItem, Screenshot, Source, Verdict
from review_ui.store.rechecks import record_takedown
from tests.crawler.capture_site import CaptureSite
from tests.review_ui.conftest import make_item
from tests.review_ui.test_api import session_client, token_client

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00\x00\x05\x00\x00\x00\x03\x84" + b"x" * 20


def shots(**filters) -> list[tuple[str, str, int]]:
    return list(Screenshot.objects.filter(**filters).order_by("pk")
                .values_list("trigger", "status", "attempts"))


def store_capture(ad_id: int, png: bytes = PNG, trigger: str = "flagged") -> Screenshot:
    row = Screenshot.objects.create(ad_id=ad_id, trigger=trigger)
    assert capture.claim(row)
    capture.record_capture(row, png, 1280, 900, f"http://127.0.0.1/post/{ad_id}")
    return Screenshot.objects.get(pk=row.pk)


# --- What the store asks for -----------------------------------------------------------------

@pytest.mark.django_db
def test_a_flagged_ad_gets_a_pending_capture_and_an_unflagged_one_none():
    flagged = make_item(url="http://127.0.0.1/post/1")
    unflagged = make_item(url="http://127.0.0.1/post/2", score=0.1, label=0)
    assert shots(ad_id=flagged.ad_id) == [("flagged", "pending", 0)]
    assert shots(ad_id=unflagged.ad_id) == []
    assert Screenshot.objects.get(ad_id=flagged.ad_id).url == "http://127.0.0.1/post/1"


@pytest.mark.django_db
def test_crawling_a_flagged_ad_again_asks_for_nothing_but_a_recheck_does():
    first = make_item()
    Screenshot.objects.filter(ad_id=first.ad_id).update(status="ok")
    make_item()  # the same page crawled again
    assert shots(ad_id=first.ad_id) == [("flagged", "ok", 0)]
    run_id = runs.start_run({"name": "test_site", "kind": "html"}, purpose="recheck")
    _ingest_in_run(run_id)
    assert shots(ad_id=first.ad_id) == [("flagged", "ok", 0), ("recheck", "pending", 0)]
    _ingest_in_run(run_id)  # one waiting already: no second request
    assert len(shots(ad_id=first.ad_id)) == 2


def _ingest_in_run(run_id: int) -> None:
    from review_ui.store.ingest import ingest

    item = {"url": "http://127.0.0.1/post/1", "source": "test_site", "title": "小学数学一对一辅导",
            "body_text": "周末上门辅导", "verdict": {"score": 0.9, "label": 1,
                                                 "model_version": "test-model"}}
    ingest([item], run_id)


@pytest.mark.django_db
def test_an_ad_that_becomes_flagged_gets_a_capture():
    result = make_item(score=0.1, label=0)
    assert shots(ad_id=result.ad_id) == []
    make_item(score=0.9, label=1, text="改写后的广告：高中物理上门辅导，电话13912345678")
    assert shots(ad_id=result.ad_id) == [("flagged", "pending", 0)]


@pytest.mark.django_db
def test_catch_up_asks_for_flagged_ads_never_captured_only():
    never = make_item(url="http://127.0.0.1/post/1")
    captured = make_item(url="http://127.0.0.1/post/2")
    make_item(url="http://127.0.0.1/post/3", score=0.1, label=0)
    Screenshot.objects.filter(ad_id=never.ad_id).delete()  # flagged before screenshots existed
    Screenshot.objects.filter(ad_id=captured.ad_id).update(status="ok")
    assert capture.request_catch_up() == 1
    assert shots(ad_id=never.ad_id) == [("catch_up", "pending", 0)]
    assert capture.request_catch_up() == 0


@pytest.mark.django_db
def test_captures_are_kept_after_a_takedown():
    result = make_item()
    shot = store_capture(result.ad_id)
    assert record_takedown("http://127.0.0.1/post/1", "http_404")
    assert Screenshot.latest_for(result.ad_id) == shot
    assert bytes(Screenshot.objects.get(pk=shot.pk).image) == PNG


@pytest.mark.django_db
def test_a_failure_is_tried_once_more_then_left_failed():
    result = make_item()
    row = Screenshot.objects.get(ad_id=result.ad_id)
    for attempt in (1, 2):
        assert capture.next_due() == row
        assert capture.claim(row) and row.attempts == attempt
        assert capture.next_due() is None  # being captured: nobody else takes it
        capture.record_failure(row, "timeout: no screenshot within 30 s")
    assert capture.next_due() is None
    assert shots() == [("flagged", "failed", 2)]
    failed = AuditEvent.objects.get(action="ad.capture_failed")
    assert failed.detail["attempts"] == 2 and failed.detail["reason"].startswith("timeout")


@pytest.mark.django_db
def test_a_claimed_row_cannot_be_claimed_twice():
    row = Screenshot.objects.get(ad_id=make_item().ad_id)
    stale = Screenshot.objects.get(pk=row.pk)
    assert capture.claim(row)
    assert not capture.claim(stale)


@pytest.mark.django_db
def test_a_capture_left_by_a_dead_worker_counts_as_a_failed_attempt():
    row = Screenshot.objects.get(ad_id=make_item().ad_id)
    capture.claim(row)
    assert capture.fail_interrupted() == 1
    assert shots() == [("flagged", "failed", 1)]
    assert Screenshot.objects.get().reason == capture.INTERRUPTED
    assert capture.next_due() == row  # its second try


@pytest.mark.django_db(transaction=True)
def test_one_worker_at_a_time_holds_the_capture_lock():
    first, second = capture.CaptureLock(), capture.CaptureLock()
    try:
        assert first.acquire()
        assert not second.acquire()
        first.release()
        assert second.acquire()
    finally:
        first.release()
        second.release()


# --- The worker, with Chromium -----------------------------------------------------------------

@pytest.fixture
def site():
    made = CaptureSite("127.0.0.1")
    yield made
    made.stop()


def worker(**overrides) -> capture.WorkerOptions:
    return capture.options_from_settings(**{"rate": 0, "timeout": 20, **overrides})


@needs_chromium
@pytest.mark.slow
@pytest.mark.pg
@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_worker_captures_pending_ads_and_audits_the_hash(site):
    for n in range(2):
        make_item(url=f"{site.url}/ad/{n}")
    tally = capture.run(worker())
    assert (tally.captured, tally.failed) == (2, 0)
    for shot in Screenshot.objects.all():
        assert shot.status == "ok" and shot.attempts == 1
        assert shot.sha256 == hashlib.sha256(bytes(shot.image)).hexdigest()
        assert shot.width == 1280 and shot.captured_at is not None
        event = AuditEvent.objects.get(action="ad.captured", ad_id=shot.ad_id)
        assert event.detail["sha256"] == shot.sha256
        # The copy an evidence sheet prints is made as the capture is stored.
        kept = evidence.copy_cache() / shot.sha256[:2] / shot.sha256
        assert (kept / "copy.json").is_file() and (kept / "0.jpg").is_file()
        assert evidence.cached_copy(bytes(shot.image)) == evidence.printed_copy(bytes(shot.image))
    assert site.browser_hits[f"/ad/{0}"] == 1


@needs_chromium
@pytest.mark.slow
@pytest.mark.pg
@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_page_that_times_out_is_recorded_failed_then_retried_once(site):
    site.slow_seconds = 20
    slow = make_item(url=f"{site.url}/slow")
    tally = capture.run(worker(timeout=4, limit=1))
    assert tally.failed == 1
    row = Screenshot.objects.get(ad_id=slow.ad_id)
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.reason == "timeout: no screenshot within 4 s"
    site.slow_seconds = 0  # the site is back: the second try works
    assert capture.run(worker(timeout=20)).captured == 1
    row.refresh_from_db()
    assert (row.status, row.attempts, row.reason) == ("ok", 2, "")


@needs_chromium
@pytest.mark.slow
@pytest.mark.pg
@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_worker_survives_hostile_pages_and_goes_on(site):
    for path in ("loop", "dialogs", "ad/3"):
        make_item(url=f"{site.url}/{path}")
    tally = capture.run(worker(timeout=10))
    assert tally.captured >= 2  # the endless script fails twice, the others are captured
    statuses = dict(Screenshot.objects.values_list("ad__url", "status"))
    assert statuses[f"{site.url}/loop"] == "failed"
    assert statuses[f"{site.url}/dialogs"] == "ok" and statuses[f"{site.url}/ad/3"] == "ok"
    assert Screenshot.objects.get(ad__url=f"{site.url}/loop").attempts == 2


@needs_chromium
@pytest.mark.slow
@pytest.mark.pg
@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_worker_keeps_to_its_rate(site):
    for n in range(3):
        make_item(url=f"{site.url}/ad/{n}")
    import time

    started = time.monotonic()
    assert capture.run(worker(rate=30)).captured == 3  # one every 2 s
    assert time.monotonic() - started >= 4


@needs_chromium
@pytest.mark.slow
@pytest.mark.pg
@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_capture_command_catches_up_and_prints_counts(site):
    for n in range(3):
        make_item(url=f"{site.url}/ad/{n}")
    Screenshot.objects.all().delete()  # flagged before screenshots existed
    out = StringIO()
    call_command("capture", "--limit", "2", "--rate", "0", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "requested 3 capture(s) of flagged ads never captured"
    assert lines[-1] == ("captured 2, failed 0 (of which to retry 0), pending 1, "
                         "failed for good 0")


# --- The ad page -------------------------------------------------------------------------------

@pytest.mark.django_db
def test_the_ad_page_shows_the_capture_its_hash_and_time(officer_client):
    result = make_item()
    shot = store_capture(result.ad_id)
    page = officer_client.get(reverse("review_ui:ad", args=[result.ad_id])).content.decode()
    image = reverse("review_ui:screenshot", args=[result.ad_id, shot.pk])
    assert f'src="{image}"' in page
    assert shot.sha256 in page
    response = officer_client.get(image)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert b"".join(response) == PNG
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_a_failed_capture_shows_its_reason_escaped(officer_client):
    result = make_item()
    row = Screenshot.objects.get(ad_id=result.ad_id)
    capture.claim(row)
    capture.record_failure(row, "browser: <script>alert(1)</script>")
    page = officer_client.get(reverse("review_ui:ad", args=[result.ad_id])).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page
    assert "浏览器打开该页面时出错" in page  # what the code means, in Chinese


@pytest.mark.django_db
def test_a_capture_that_timed_out_says_so_in_chinese(officer_client):
    result = make_item()
    row = Screenshot.objects.get(ad_id=result.ad_id)
    for _ in range(2):
        capture.claim(row)
        capture.record_failure(row, "timeout: no screenshot within 30 s")
    page = officer_client.get(reverse("review_ui:ad", args=[result.ad_id])).content.decode()
    assert "页面未能在限定时间内加载完成（超时）" in page
    assert "已尝试 2 次" in page and "暂无" in page  # no capture to show


@pytest.mark.django_db
def test_the_image_needs_a_login_and_the_queue_role(client, outsider_client, officer_client):
    result = make_item()
    shot = store_capture(result.ad_id)
    image = reverse("review_ui:screenshot", args=[result.ad_id, shot.pk])
    assert client.get(image).status_code == 302  # to the login page
    assert outsider_client.get(image).status_code == 403
    assert officer_client.post(image).status_code == 405
    other = make_item(url="http://127.0.0.1/post/2")
    assert officer_client.get(
        reverse("review_ui:screenshot", args=[other.ad_id, shot.pk])).status_code == 404


# --- The API -----------------------------------------------------------------------------------

@pytest.mark.django_db
def test_the_api_ad_has_no_screenshot_until_captured_then_its_hash_time_and_url(officer):
    result = make_item()
    api = token_client(officer)
    ad_url = reverse("api:ad", args=[result.ad_id])
    assert api.get(ad_url).json()["screenshot"] is None
    shot = store_capture(result.ad_id)
    got = api.get(ad_url).json()["screenshot"]
    assert got["sha256"] == shot.sha256
    assert got["captured_at"] and got["url"].startswith("http://testserver/api/v1/ads/")
    image = api.get(got["url"])
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert hashlib.sha256(b"".join(image)).hexdigest() == got["sha256"]
    assert api.get(got["url"], HTTP_ACCEPT="image/png").status_code == 200
    assert session_client(officer).get(got["url"]).status_code == 200


@pytest.mark.django_db
def test_the_screenshot_url_keeps_the_apis_access_rules(officer, outsider):
    result = make_item()
    shot = store_capture(result.ad_id)
    url = reverse("api:ad_screenshot", args=[result.ad_id, shot.pk])
    assert APIClient().get(url).status_code == 401
    assert token_client(outsider).get(url).status_code == 403
    assert token_client(officer).get(
        reverse("api:ad_screenshot", args=[result.ad_id, shot.pk + 1])).status_code == 404
    assert token_client(officer).post(url).status_code == 405


@pytest.mark.django_db
def test_the_api_item_names_its_case(officer):
    result = make_item()
    item = ReviewItem.objects.get(ad_id=result.ad_id)
    api = token_client(officer)
    got = api.get(reverse("api:item", args=[item.pk])).json()
    assert (got["case"], got["case_id"]) == (None, None)
    item.decide(officer, "escalated", "", reason="open_tutoring", new_case=True)
    got = api.get(reverse("api:item", args=[item.pk])).json()
    item.refresh_from_db()
    assert (got["case"], got["case_id"]) == (item.case.number, item.case_id)
    assert api.get(reverse("api:item", args=[item.pk + 99])).status_code == 404
    assert APIClient().get(reverse("api:item", args=[item.pk])).status_code == 401


def test_an_ad_submitted_by_hand_is_never_sent_to_the_browser(db):
    """A submission (``manual:<uuid>``) carries its own pictures: neither its flagging nor the
    catch-up asks for a capture of it."""
    from review_ui.store.screenshots import request_screenshots

    source = Source.objects.create(name="manual:wechat_group")
    ad = Ad.objects.create(url="manual:4f0c", source=source, fetched_at=timezone.now(),
                           text="初二数学一对一")
    ad.verdict = Verdict.objects.create(ad=ad, score=0.99, label=True, model_version="t")
    ad.save(update_fields=["verdict"])
    assert request_screenshots([(ad, Screenshot.Trigger.FLAGGED)]) == 0
    assert capture.request_catch_up() == 0
    assert not Screenshot.objects.exists()
