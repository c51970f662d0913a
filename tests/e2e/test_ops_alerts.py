"""Operations that say what happened, with the real command line and sandbox sites on
127.0.0.1 (issue 21): a site answering 500 is alerted as down, apart from a changed layout, with
the same counts in the summary, the run and the alert; a crawl capped by CLOSESPIDER_* is not a
failure; a fixed selector re-fetches the stored ads; every log line is written once; the
scheduler refuses the bundled sources in production and says what it reached."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.e2e import test_operations as operations
from tests.e2e.test_operations import detail_hits, export, wait_for, write_source

bulk = operations.bulk  # the sandbox sites' fixture

pytestmark = [pytest.mark.slow, pytest.mark.pg]

RUN_SCRIPT = (
    "import json; from review_ui.models import CrawlRun; "
    "print(json.dumps(list(CrawlRun.objects.order_by('pk').values("
    "'source__name', 'status', 'finish_reason', 'error_kinds', 'health', 'alerts', 'stats')), "
    "default=str))"
)


def runs(tutorwatch) -> list[dict]:
    done = tutorwatch("shell", "-c", RUN_SCRIPT)
    return json.loads(done.stdout.decode().strip().splitlines()[-1])


def log_lines(stderr: bytes) -> list[str]:
    """The log's lines, without Django's closing CommandError line."""
    return [
        line
        for line in stderr.decode().splitlines()
        if line.strip() and not line.startswith("CommandError")
    ]


def test_a_site_answering_500_is_down_and_a_changed_layout_is_named_apart(
    bulk,
    tmp_path,
    tutorwatch,
    webhook,
    record_property,
):
    down = bulk(pages=10, error_status=500, robots_txt=False)
    changed = bulk(pages=10, detail_layout_changed=True, robots_txt=False)
    down_path = write_source(tmp_path, down, "county_down")
    changed_path = write_source(tmp_path, changed, "county_changed")
    tutorwatch.env["TUTORWATCH_ALERT_WEBHOOK"] = webhook.url
    tutorwatch.env["TUTORWATCH_CRAWL_LOG_LEVEL"] = "INFO"
    tutorwatch("migrate", "-v", "0")

    # --- the site answering 500, logged as JSON --------------------------------------------------
    tutorwatch.env["TUTORWATCH_LOG_FORMAT"] = "json"
    done = tutorwatch("crawl", "--source", str(down_path), check=False)
    assert done.returncode == 1
    out = done.stdout.decode()
    assert "failed pages 1 (http_500 1)" in out and "errors 1" in out
    assert (
        "health check failed: the site is down or blocking us: 1 of 1 pages failed (http_500 1)"
    ) in out
    records = [json.loads(line) for line in log_lines(done.stderr)]  # every line is JSON
    assert {"time", "level", "logger", "message"} <= set(records[0])
    said = [(r["logger"], r["message"]) for r in records]
    assert len(said) == len(set(said)), "a log line was written twice"
    assert [r for r in records if r["logger"] == "tutorwatch.alerts"] != []
    assert len([r for r in records if r["logger"] == "tutorwatch.alerts"]) == 1
    # Scrapy's start-up and stats dumps are at DEBUG
    assert not [
        r
        for r in records
        if r["logger"] in ("scrapy.utils.log", "scrapy.statscollectors")
        or r["message"].startswith(("Enabled", "Overridden settings"))
    ]
    [alert] = webhook.received
    down_text = alert["json"]["text"]["content"]
    assert "网站宕机或正在阻止我们访问：1 个页面中有 1 个请求失败（http_500 1）" in down_text
    assert "网站是否改变了页面布局" not in down_text and "页面布局已改变" not in down_text
    assert "失败页面 1 (http_500 1)" in down_text and "错误 1" in down_text
    assert f"http_500: {down.url}/list/1.html" in down_text
    [run] = runs(tutorwatch)
    assert [h["check"] for h in run["health"]] == ["site_down"]
    # each URL once after its retries, robots.txt's 404 not an error: as the summary counts
    assert run["error_kinds"] == {"http_500": 1}
    assert run["stats"]["downloader/response_status_count/500"] == 3  # tried three times

    # --- the site whose detail layout changed, logged as text ------------------------------------
    del tutorwatch.env["TUTORWATCH_LOG_FORMAT"]
    done = tutorwatch("crawl", "--source", str(changed_path), check=False)
    assert done.returncode == 1
    out = done.stdout.decode()
    assert (
        "county_changed: selectors matched on fewer than half the pages: "
        "detail.body matched 0 of 9 pages; detail.title matched 0 of 9 pages\n"
    ) in out
    assert "health check failed: the layout has changed: detail.body matched 0 of 9 pages" in out
    lines = log_lines(done.stderr)
    events = [line.split(" ", 2)[2] for line in lines if line[:2] == "20"]  # without the time
    assert len(events) == len(set(events)), "a log line was written twice"
    assert not any("Enabled extensions" in line or "Versions:" in line for line in lines)
    changed_text = webhook.received[1]["json"]["text"]["content"]
    assert (
        "页面布局已改变：页面已抓取，但detail.body 在 9 个页面中匹配到 0 个；"
        "detail.title 在 9 个页面中匹配到 0 个。"
    ) in changed_text
    assert "网站宕机" not in changed_text and "失败页面 0" in changed_text
    health = runs(tutorwatch)[1]["health"]
    assert health[0] == {
        "check": "selectors_unmatched",
        "limit": 0.5,
        "selectors": [
            {"key": "detail.body", "matched": 0, "pages": 9},
            {"key": "detail.title", "matched": 0, "pages": 9},
        ],
    }
    record_property("alert_site_down", down_text)
    record_property("alert_layout_changed", changed_text)


def test_a_capped_crawl_finishes_without_an_alert_and_a_fixed_selector_refetches_stored_ads(
    bulk,
    tmp_path,
    tutorwatch,
    webhook,
):
    site = bulk(pages=20)  # 2 list pages, 18 ads
    path = write_source(tmp_path, site, "county")
    path.write_text(path.read_text().replace("span.time::text", "span.when::text"))
    tutorwatch.env["TUTORWATCH_ALERT_WEBHOOK"] = webhook.url
    tutorwatch("migrate", "-v", "0")

    done = tutorwatch("crawl", "--source", str(path), "-s", "CLOSESPIDER_ITEMCOUNT=3")
    out = done.stdout.decode()
    assert out.startswith("county: closespider_itemcount;")
    assert "county: stopped by CLOSESPIDER_ITEMCOUNT as asked: not a failure" in out
    assert "detail.posted_at matched 0 of" in out  # optional: reported, not a failure
    [run] = runs(tutorwatch)
    assert (run["status"], run["health"], run["alerts"]) == ("finished", [], {})
    assert webhook.received == []
    first = export(tutorwatch)
    stored = [ad["url"] for ad in first]
    assert len(stored) >= 3 and all(not ad["posted_at"] for ad in first)

    # the selector fixed: the ads stored with the old config are fetched again at once
    path.write_text(path.read_text().replace("span.when::text", "span.time::text"))
    done = tutorwatch("crawl", "--source", str(path))
    assert "stored earlier and not due 0" in done.stdout.decode()
    assert "matched" not in done.stdout.decode()
    assert all(site.site.hits[url.split(site.url, 1)[1]] == 2 for url in stored)
    assert detail_hits(site) == 18 + len(stored)
    ads = export(tutorwatch)
    assert len(ads) == 18 and all(ad["posted_at"] for ad in ads)
    assert webhook.received == []


def test_the_scheduler_refuses_the_bundled_sources_in_production_and_says_what_it_reached(
    bulk,
    tmp_path,
    tutorwatch,
):
    tutorwatch("migrate", "-v", "0")
    done = tutorwatch("schedule", "--check", check=False)
    assert done.returncode == 2
    [message] = done.stderr.decode().strip().splitlines()
    assert "TUTORWATCH_SOURCES_DIR is not set" in message
    tutorwatch.env["TUTORWATCH_DEBUG"] = "1"
    out = tutorwatch("schedule", "--check").stdout.decode()
    assert "sources: the bundled sandbox sources (TUTORWATCH_SOURCES_DIR is not set)" in out
    del tutorwatch.env["TUTORWATCH_DEBUG"]

    handle = bulk(pages=10)
    sources = tmp_path / "sources"
    sources.mkdir()
    write_source(sources, handle, extra='schedule: "0 3 * * *"\n')
    write_source(sources, handle, name="by_hand")
    tutorwatch.env["TUTORWATCH_SOURCES_DIR"] = str(sources)
    db = tutorwatch.env["TUTORWATCH_DB"]
    if db.startswith("postgresql://postgres@"):
        # the test server trusts local connections: a password is accepted, and must not show
        tutorwatch.env["TUTORWATCH_DB"] = db.replace("postgres@", "postgres:s3cret@", 1)
    redis = os.environ.get("TUTORWATCH_TEST_REDIS", "")
    if redis:
        tutorwatch.env["TUTORWATCH_REDIS_URL"] = redis
    out = tutorwatch("schedule", "--check").stdout.decode()
    tutorwatch.env["TUTORWATCH_DB"] = db
    assert "s3cret" not in out
    if db.startswith("sqlite:///"):
        assert f"database: SQLite database {db[len('sqlite:///') :]}: reached" in out
    else:
        name = db.rsplit("/", 1)[1]
        assert (
            f"database: PostgreSQL database '{name}' at 127.0.0.1:5432 as postgres: reached" in out
        )
    assert (f"redis: {redis}: reached" if redis else "redis: not configured") in out
    assert f"sources: {sources}" in out
    [line] = [row for row in out.splitlines() if row.startswith("bulk\tcrawl")]
    assert line.startswith("bulk\tcrawl\t0 3 * * *\tnext ") and " 03:00 " in line
    assert "by_hand\tcrawl\t-\tno schedule: crawled only by hand" in out
    tutorwatch.env.pop("TUTORWATCH_REDIS_URL", None)

    # a bad environment value: one line naming it, its value and what is allowed; exit 2
    for name, value, allowed in (
        ("TUTORWATCH_RECHECK_SCHEDULE", "61 * * * *", "must be a five-field cron expression"),
        ("TUTORWATCH_LOG_FORMAT", "xml", "must be one of text, json"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "review_ui.cli", "schedule", "--check"],
            env={**tutorwatch.env, name: value},
            cwd=ROOT,
            capture_output=True,
            timeout=120,
        )
        assert done.returncode == 2, name
        [message] = done.stderr.decode().strip().splitlines()
        assert message.startswith(name) and allowed in message and repr(value) in message

    # the scheduler's lines are written once (no second handler beside the log's own)
    log = tmp_path / "schedule.log"
    with open(log, "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "review_ui.cli", "schedule", "--stop-timeout", "1"],
            env=tutorwatch.env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            wait_for(
                lambda: b"scheduled crawl bulk" in log.read_bytes(), 60, "the scheduler's plan"
            )
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
    text = log.read_text()
    assert text.count("scheduled crawl bulk") == 1
    assert text.count("received SIGTERM") == 1
