"""Backing off a blocked source: the wait doubles with each blocked run in a row up to its
limit, ends with the first run that was not blocked, and the scheduler starts nothing meanwhile;
the alert says the site is blocking us."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from crawler.config import parse_source
from review_ui import runs
from review_ui.blocks import backoff_wait, blocked_in_a_row, resting_until
from review_ui.models import CrawlRun
from review_ui.scheduling import CRAWL, RECHECK, CrawlScheduler

CONFIG = {"name": "county_forum", "kind": "html"}
BLOCKED = {"tutorwatch/pages/list": 1, "tutorwatch/failed/blocked": 1,
           "tutorwatch/blocked/slider": 1}
HEALTHY = {"item_scraped_count": 9, "tutorwatch/pages/list": 1, "tutorwatch/pages/detail": 9}


def source(**extra):
    return parse_source({"name": "county_forum", "kind": "html",
                         "start_urls": ["http://127.0.0.1/"], "list": {"links": "a::attr(href)"},
                         "detail": {"title": "h1", "body": "p"}, **extra},
                        origin="/srv/sources/county_forum.yaml")


def test_the_wait_doubles_from_the_first_pause_up_to_the_limit():
    assert backoff_wait(0, 1, 24) == timedelta(0)
    assert [backoff_wait(n, 1, 24) / timedelta(hours=1) for n in range(1, 8)] == \
        [1, 2, 4, 8, 16, 24, 24]
    assert backoff_wait(3, 0.5, 1) == timedelta(hours=1)
    assert backoff_wait(500, 1, 24) == timedelta(hours=24)


def finish(stats: dict, reason: str) -> CrawlRun:
    return runs.finish_run(runs.start_run(CONFIG), stats, reason)


@pytest.mark.django_db
def test_blocked_runs_in_a_row_set_the_rest_and_a_good_run_ends_it(settings):
    settings.TUTORWATCH_ALERT_EMAILS = ["supervisor@bureau.example"]
    settings.TUTORWATCH_ALERT_WEBHOOK = ""
    settings.LANGUAGE_CODE = "en"
    assert resting_until(source()) is None  # never crawled

    first = finish(BLOCKED, "blocked")
    assert first.status == CrawlRun.Status.FAILED and first.finish_reason == "blocked"
    [alert] = mail.outbox
    assert "The site is blocking us: it answered with a slider challenge" in alert.body
    assert "nothing tries to get past the challenge" in alert.body
    assert "layout" not in alert.body
    until = resting_until(source())
    assert until == first.finished_at + timedelta(hours=1)

    second = finish({**BLOCKED, "tutorwatch/blocked/captcha": 1}, "blocked")
    assert blocked_in_a_row("county_forum") == (2, second.finished_at)
    assert resting_until(source()) == second.finished_at + timedelta(hours=2)
    assert resting_until(source(backoff={"first_hours": 3, "max_hours": 4})) == \
        second.finished_at + timedelta(hours=4)
    # A crawl that went on after a block (TUTORWATCH_STOP_ON_BLOCK off) counts as blocked too.
    third = finish({**HEALTHY, **BLOCKED}, "finished")
    assert third.status == CrawlRun.Status.FAILED
    assert [h["check"] for h in third.health] == ["blocked"]
    assert blocked_in_a_row("county_forum")[0] == 3

    finish(HEALTHY, "finished")
    assert blocked_in_a_row("county_forum") == (0, None)
    assert resting_until(source()) is None


@pytest.mark.django_db
def test_a_blocked_run_alerts_in_chinese_where_alerts_are_chinese(settings):
    settings.TUTORWATCH_ALERT_EMAILS = ["supervisor@bureau.example"]
    settings.TUTORWATCH_ALERT_WEBHOOK = ""
    settings.LANGUAGE_CODE = "zh-hans"
    finish({**BLOCKED, "tutorwatch/blocked/rate_limit": 1}, "blocked")
    [alert] = mail.outbox
    assert "网站在阻止我们抓取" in alert.body and "访问过于频繁" in alert.body


def test_the_scheduler_starts_nothing_for_a_source_that_rests(tmp_path):
    started = []
    resting = {"until": datetime.now(UTC) + timedelta(hours=1)}
    scheduler = CrawlScheduler(
        {"county_forum": source(schedule="* * * * *")},
        command=lambda config, purpose: started.append(purpose) or ["true"],
        recheck_due=lambda config: True, on_exit=lambda: None,
        resting_until=lambda config: resting["until"],
    )
    scheduler.request("county_forum", CRAWL)
    scheduler.request("county_forum", RECHECK)
    assert started == [] and scheduler.running == {}
    resting["until"] = timezone.now() - timedelta(seconds=1)  # the rest is over
    scheduler.request("county_forum", CRAWL)
    assert started == [CRAWL]
    scheduler.stop()
