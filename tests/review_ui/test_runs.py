"""Crawl runs: exclusive starts, shared runs, health checks with alerts, dead runs."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from review_ui import runs
from review_ui.models import CrawlRun

pytestmark = pytest.mark.django_db
CONFIG = {"name": "county_forum", "kind": "html"}
HEALTHY = {"item_scraped_count": 90, "tutorwatch/pages/list": 10, "tutorwatch/pages/detail": 90,
           "response_received_count": 101, "tutorwatch/items/stored/new": 90,
           "tutorwatch/items/flagged": 12, "log_count/ERROR": 1,
           # robots.txt and one page answered 404: only the page failed (errors count URLs).
           "downloader/response_status_count/404": 2, "tutorwatch/failed/http_404": 1}


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.fixture(autouse=True)
def alert_by_email(settings):
    settings.TUTORWATCH_ALERT_EMAILS = ["supervisor@bureau.example"]
    settings.TUTORWATCH_ALERT_WEBHOOK = ""
    settings.TUTORWATCH_UI_URL = "https://tutorwatch.bureau.example"


def test_a_finished_crawl_is_recorded_with_its_numbers_and_errors_by_kind():
    run_id = runs.start_run(CONFIG, "/etc/tutorwatch/county_forum.yaml", trigger="scheduled")
    run = runs.finish_run(run_id, HEALTHY, "finished")
    assert run.status == CrawlRun.Status.FINISHED and run.health == []
    assert (run.pages, run.items, run.new_ads, run.flagged, run.errors) == (101, 90, 90, 12, 1)
    assert run.error_kinds == {"http_404": 1}
    assert run.trigger == "scheduled" and run.pid and run.workers[0]["reason"] == "finished"
    assert mail.outbox == []


def test_a_crawl_that_found_nothing_is_failed_with_the_reason_and_an_alert():
    run_id = runs.start_run(CONFIG)
    run = runs.finish_run(run_id, {"tutorwatch/pages/list": 1,
                                   "tutorwatch/pages/list_without_links": 1}, "finished")
    assert run.status == CrawlRun.Status.FAILED
    assert [f["check"] for f in run.health] == ["zero_items", "parse_failures"]
    assert run.alerts == {"email": "sent to supervisor@bureau.example"}
    message = mail.outbox[0]
    assert "county_forum" in message.subject
    assert "布局" in message.body  # in the site's language: zh-hans
    assert f"https://tutorwatch.bureau.example/runs/{run.pk}/" in message.body


def test_far_fewer_ads_than_recent_runs_fail_the_run():
    for _ in range(3):
        runs.finish_run(runs.start_run(CONFIG), HEALTHY, "finished")
    few = {**HEALTHY, "item_scraped_count": 10, "tutorwatch/pages/detail": 10}
    run = runs.finish_run(runs.start_run(CONFIG), few, "finished")
    assert run.status == CrawlRun.Status.FAILED
    assert run.health == [{"check": "few_items", "found": 10, "expected": 90.0, "ratio": 0.3}]


def test_a_crawl_stopped_by_shutdown_is_interrupted_without_an_alert():
    run = runs.finish_run(runs.start_run(CONFIG), {"item_scraped_count": 3}, "shutdown")
    assert run.status == CrawlRun.Status.INTERRUPTED and run.health == []
    assert mail.outbox == []


def test_a_second_crawl_of_a_source_is_refused_while_one_runs():
    first = runs.start_run(CONFIG)  # this test process is alive: the run is live
    with pytest.raises(runs.SourceBusy, match="already running"):
        runs.start_run(CONFIG)
    assert runs.running_run("county_forum").pk == first


def test_a_run_whose_process_died_is_marked_interrupted_with_an_alert():
    worker = {"id": f"{runs.HOST}:0", "host": runs.HOST, "pid": dead_pid()}
    run_id = runs.start_run(CONFIG, worker=worker)
    assert runs.running_run("county_forum") is None
    dead = runs.mark_dead_runs()
    assert [run.pk for run in dead] == [run_id]
    run = CrawlRun.objects.get(pk=run_id)
    assert run.status == CrawlRun.Status.INTERRUPTED and run.finish_reason == "process died"
    assert "email" in run.alerts and len(mail.outbox) == 1
    # A new crawl of the source may start now.
    assert runs.start_run(CONFIG) != run_id


def test_a_run_of_another_machine_is_dead_only_once_silent_for_too_long(settings):
    settings.TUTORWATCH_RUN_STALE_MINUTES = 10
    worker = {"id": "crawler-2:4242", "host": "crawler-2", "pid": 4242}
    run_id = runs.start_run(CONFIG, worker=worker)
    assert runs.mark_dead_runs() == []
    CrawlRun.objects.filter(pk=run_id).update(heartbeat_at=timezone.now() - timedelta(minutes=11))
    assert [run.pk for run in runs.mark_dead_runs()] == [run_id]
    assert CrawlRun.objects.get(pk=run_id).finish_reason == "no sign of life"


def test_the_workers_of_a_shared_crawl_record_one_run_with_merged_stats():
    first = {"id": "a:1", "host": "a", "pid": 1}
    run_id = runs.start_run(CONFIG, worker=first, exclusive=False)
    assert runs.join_run(run_id, {"id": "b:2", "host": "b", "pid": 2})
    half = {**HEALTHY, "item_scraped_count": 45}
    run = runs.finish_run(run_id, half, "finished", worker_id="a:1", last=False)
    assert run.status == CrawlRun.Status.RUNNING
    run = runs.finish_run(run_id, half, "finished", worker_id="b:2", last=True)
    assert run.status == CrawlRun.Status.FINISHED
    assert run.items == 90 and run.pages == 202
    assert [w["reason"] for w in run.workers] == ["finished", "finished"]
    assert not runs.join_run(run_id, {"id": "c:3", "host": "c", "pid": 3})


def test_a_shared_run_fails_when_one_of_its_workers_failed():
    run_id = runs.start_run(CONFIG, worker={"id": "a:1", "host": "a", "pid": 1}, exclusive=False)
    runs.join_run(run_id, {"id": "b:2", "host": "b", "pid": 2})
    runs.finish_run(run_id, HEALTHY, "redis_unavailable", worker_id="a:1", last=False)
    run = runs.finish_run(run_id, HEALTHY, "finished", worker_id="b:2", last=True)
    assert run.status == CrawlRun.Status.FAILED and run.finish_reason == "redis_unavailable"
