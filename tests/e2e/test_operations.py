"""Operations end to end, with the real command line: health checks that fail a run and alert,
incremental crawls and re-checks, one crawl per source, dead and stopped crawls, the scheduler,
and distributed crawls sharing a frontier in the real Redis."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from crawler.sandbox.bulk import BulkHandle, BulkSite, source_yaml, start_bulk_site
from tests.conftest import ROOT
from tests.crawler.store_view import count_ads
from tests.tcpproxy import TcpProxy

pytestmark = [pytest.mark.slow, pytest.mark.pg]


# --- helpers -----------------------------------------------------------------------------------
@pytest.fixture
def bulk() -> Iterator[callable]:
    handles: list[BulkHandle] = []

    def make(**kwargs) -> BulkHandle:
        handle = start_bulk_site(BulkSite(**kwargs))
        handles.append(handle)
        return handle

    yield make
    for handle in handles:
        handle.stop()


def write_source(tmp_path: Path, handle: BulkHandle, name: str = "bulk", extra: str = "") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(source_yaml(name, handle.url, extra), encoding="utf-8")
    return path


def export(tutorwatch) -> list[dict]:
    done = tutorwatch("export", "--format", "jsonl", "-o", "-")
    return [json.loads(line) for line in done.stdout.decode().splitlines()]


RUNS_SCRIPT = (
    "import json; from review_ui.models import CrawlRun, AdVersion, Ad; "
    "print(json.dumps({'runs': list(CrawlRun.objects.order_by('pk').values("
    "'pk', 'status', 'kind', 'trigger', 'finish_reason', 'items', 'pages', 'changed', 'removed', "
    "'skipped', 'health', 'workers', 'alerts')), "
    "'versions': list(AdVersion.objects.values_list('ad__url', flat=True)), "
    "'removed': dict(Ad.objects.exclude(removal='').values_list('url', 'removal'))}, default=str))"
)


def store(tutorwatch) -> dict:
    done = tutorwatch("shell", "-c", RUNS_SCRIPT)
    return json.loads(done.stdout.decode().strip().splitlines()[-1])


def popen(tutorwatch, *args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "review_ui.cli", *args], env={**tutorwatch.env, **(env or {})},
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def wait_for(condition, timeout: float = 60, what: str = "a condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def detail_hits(handle: BulkHandle) -> int:
    return sum(n for path, n in handle.site.hits.items() if path.startswith("/ad/"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def redis_env() -> Iterator[dict[str, str]]:
    """The real Redis of TUTORWATCH_TEST_REDIS under a key prefix of this test's own, cleared
    afterwards."""
    url = os.environ.get("TUTORWATCH_TEST_REDIS")
    if not url:
        pytest.skip("TUTORWATCH_TEST_REDIS is not set (a Redis URL, e.g. redis://127.0.0.1:6379/15)")
    import redis

    prefix = f"twtest-{uuid.uuid4().hex[:8]}"
    server = redis.Redis.from_url(url)
    try:
        server.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis at {url} is not reachable: {exc}")
    yield {"TUTORWATCH_REDIS_URL": url, "TUTORWATCH_REDIS_PREFIX": prefix}
    keys = list(server.scan_iter(f"{prefix}:*"))
    if keys:
        server.delete(*keys)
    server.close()


# --- health checks -------------------------------------------------------------------------------
def test_a_changed_layout_fails_the_run_and_alerts_the_webhook(
    bulk, tmp_path, tutorwatch, webhook
):
    site = bulk(pages=30)
    path = write_source(tmp_path, site)
    tutorwatch.env["TUTORWATCH_ALERT_WEBHOOK"] = webhook.url
    tutorwatch("migrate", "-v", "0")
    tutorwatch("crawl", "--source", str(path))
    assert webhook.received == []

    site.site.broken_layout = True
    done = tutorwatch("crawl", "--source", str(path), check=False)
    assert done.returncode == 1
    out = done.stdout.decode()
    assert "health check failed: the crawl found no ads at all" in out
    runs = store(tutorwatch)["runs"]
    assert [r["status"] for r in runs] == ["finished", "failed"]
    assert [h["check"] for h in runs[1]["health"]] == [
        "zero_items", "parse_failures", "selectors_unmatched"]
    assert [s["key"] for s in runs[1]["health"][2]["selectors"]] == ["list.links"]
    assert runs[1]["alerts"] == {"webhook": "ok"}
    [alert] = webhook.received
    assert alert["json"]["msgtype"] == "text" and "bulk" in alert["json"]["text"]["content"]


# --- incremental crawls and re-checks ------------------------------------------------------------
def test_stored_ads_are_not_fetched_again_and_rechecks_record_changes_and_takedowns(
    bulk, tmp_path, tutorwatch
):
    handle = bulk(pages=40)
    site = handle.site
    path = write_source(tmp_path, handle)
    tutorwatch("migrate", "-v", "0")
    tutorwatch("crawl", "--source", str(path))
    assert detail_hits(handle) == site.details

    again = tutorwatch("crawl", "--source", str(path)).stdout.decode()
    assert detail_hits(handle) == site.details  # not one detail page fetched again
    assert f"stored earlier and not due {site.details}" in again

    flagged = sorted(int(urlsplit(ad["url"]).path[4:-5]) for ad in export(tutorwatch)
                     if ad["flagged"])
    assert len(flagged) >= 3
    edited, removed, emptied = flagged[:3]
    site.edited[edited] = "本帖内容已修改：暑假托管，另有数学作业辅导讲解。"
    site.removed.add(removed)
    site.empty.add(emptied)
    hits_before = detail_hits(handle)
    tutorwatch("crawl", "--source", str(path), "--recheck", "-s", "TUTORWATCH_RECHECK_HOURS=0")
    assert detail_hits(handle) - hits_before == len(flagged)  # only the flagged ads
    state = store(tutorwatch)
    recheck = state["runs"][-1]
    assert (recheck["kind"], recheck["status"], recheck["changed"], recheck["removed"]) == (
        "recheck", "finished", 1, 2)
    assert state["versions"] == [f"{handle.url}/ad/{edited}.html"]
    assert state["removed"] == {f"{handle.url}/ad/{removed}.html": "http_404",
                                f"{handle.url}/ad/{emptied}.html": "gone"}


AD_SCRIPT = (
    "import json; from review_ui.models import Ad, AuditEvent, CrawlRun; "
    "ad = Ad.objects.get(url=%r); run = CrawlRun.objects.latest('pk'); "
    "print(json.dumps({'text': ad.text, 'removal': ad.removal, 'removed_at': ad.removed_at, "
    "'versions': list(ad.versions.order_by('number').values('number', 'text')), "
    "'removals': list(AuditEvent.objects.filter(ad=ad, action='ad.removed')"
    ".values_list('detail', flat=True)), "
    "'run': {'pk': run.pk, 'status': run.status, 'removed': run.removed, "
    "'started_at': run.started_at, 'finished_at': run.finished_at}}, default=str))"
)


def ad_state(tutorwatch, url: str) -> dict:
    """One stored ad, its earlier versions and takedown records, and the latest run."""
    done = tutorwatch("shell", "-c", AD_SCRIPT % url)
    state = json.loads(done.stdout.decode().strip().splitlines()[-1])
    for holder, key in ((state, "removed_at"), (state["run"], "started_at"),
                        (state["run"], "finished_at")):
        holder[key] = datetime.fromisoformat(holder[key]) if holder[key] else None
    return state


@pytest.mark.parametrize("how", ["http_404", "http_410", "gone"])
def test_a_takedown_found_by_a_recheck_is_recorded_with_its_time_and_earlier_versions_kept(
    bulk, tmp_path, tutorwatch, how
):
    """The re-checked page answers 404 or 410, or a 200 page no longer shows the post: the
    takedown is recorded with its time, and the ad's content and earlier version stay."""
    handle = bulk(pages=40, gone_status=410 if how == "http_410" else 404)
    site = handle.site
    path = write_source(tmp_path, handle)
    recheck = ("crawl", "--source", str(path), "--recheck", "-s", "TUTORWATCH_RECHECK_HOURS=0")
    tutorwatch("migrate", "-v", "0")
    tutorwatch("crawl", "--source", str(path))
    stored = {ad["url"]: ad for ad in export(tutorwatch)}
    flagged = sorted(int(urlsplit(url).path[4:-5]) for url, ad in stored.items() if ad["flagged"])
    # A re-check run fails when too many of its pages come back empty (the layout may have
    # changed): keep the one takedown below the parse-failure limit.
    assert len(flagged) >= 6
    ad_id = flagged[0]
    url = f"{handle.url}/ad/{ad_id}.html"

    site.edited[ad_id] = "本帖内容已修改：暑假托管，另有数学作业辅导讲解。"
    tutorwatch(*recheck)
    if how == "gone":
        site.empty.add(ad_id)
    else:
        site.removed.add(ad_id)
    hits_before = site.hits[f"/ad/{ad_id}.html"]
    tutorwatch(*recheck)
    assert site.hits[f"/ad/{ad_id}.html"] == hits_before + 1

    state = ad_state(tutorwatch, url)
    run = state["run"]
    assert (run["status"], run["removed"]) == ("finished", 1)
    assert state["removal"] == how
    assert run["started_at"] <= state["removed_at"] <= run["finished_at"]
    assert state["removals"] == [{"run": run["pk"], "how": how}]
    # The content last seen stays on the ad as evidence, and so does the version before it.
    assert "暑假托管" in state["text"]
    assert state["versions"] == [{"number": 1, "text": stored[url]["text"]}]


# --- one crawl per source; killed and stopped crawls --------------------------------------------
def test_a_second_crawl_is_refused_and_a_killed_one_is_marked_at_the_next_scheduler_start(
    bulk, tmp_path, tutorwatch
):
    # Slow pages keep the first crawl running (about 30 s) while the second one starts up.
    handle = bulk(pages=60, delay=5.0)
    path = write_source(tmp_path, handle)
    tutorwatch("migrate", "-v", "0")
    first = popen(tutorwatch, "crawl", "--source", str(path))
    try:
        wait_for(lambda: detail_hits(handle) >= 3, what="the first crawl to fetch pages")
        second = tutorwatch("crawl", "--source", str(path), check=False)
        assert second.returncode == 3
        assert "already running" in second.stderr.decode()
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate()
    assert [r["status"] for r in store(tutorwatch)["runs"]] == ["running"]

    done = tutorwatch("schedule", "--check", "--sources", str(path))
    assert "marked interrupted (process died)" in done.stdout.decode()
    [run] = store(tutorwatch)["runs"]
    assert (run["status"], run["finish_reason"]) == ("interrupted", "process died")


def test_sigterm_stops_the_scheduler_and_records_the_running_crawl(bulk, tmp_path, tutorwatch):
    handle = bulk(pages=60, delay=0.3)
    path = write_source(tmp_path, handle, extra='schedule: "0 0 1 1 *"\n')
    tutorwatch("migrate", "-v", "0")
    scheduler = popen(tutorwatch, "schedule", "--sources", str(path), "--run-now",
                      "--stop-timeout", "0")
    try:
        wait_for(lambda: detail_hits(handle) >= 3, what="the scheduled crawl to fetch pages")
        scheduler.send_signal(signal.SIGTERM)
        out, err = scheduler.communicate(timeout=90)
    finally:
        if scheduler.poll() is None:
            scheduler.kill()
            scheduler.communicate()
    assert scheduler.returncode == 0, err.decode()[-2000:]
    assert b"scheduler stopped" in out
    [run] = store(tutorwatch)["runs"]
    assert (run["status"], run["finish_reason"], run["trigger"]) == (
        "interrupted", "shutdown", "scheduled")


def test_an_invalid_schedule_is_refused_at_load_naming_the_source_and_field(
    bulk, tmp_path, tutorwatch
):
    handle = bulk(pages=10)
    path = write_source(tmp_path, handle, extra='schedule: "0 25 * * *"\n')
    done = tutorwatch("schedule", "--check", "--sources", str(path), check=False)
    assert done.returncode == 2
    message = done.stderr.decode().strip()
    assert "key 'schedule'" in message and "'bulk'" in message and "field 2 (hour)" in message


def test_unreachable_redis_or_postgresql_is_a_clear_error_at_start(bulk, tmp_path, tutorwatch):
    handle = bulk(pages=10)
    path = write_source(tmp_path, handle, extra='schedule: "0 3 * * *"\n')
    tutorwatch("migrate", "-v", "0")
    port = free_port()
    tutorwatch.env["TUTORWATCH_REDIS_URL"] = f"redis://:secret@127.0.0.1:{port}/0"
    for args in (["crawl", "--source", str(path)], ["schedule", "--check", "--sources", str(path)],
                 ["worker"]):
        done = tutorwatch(*args, check=False)
        assert done.returncode == 1, args
        error = done.stderr.decode()
        assert f"cannot reach Redis at redis://:***@127.0.0.1:{port}/0" in error, args
        assert "secret" not in error
    del tutorwatch.env["TUTORWATCH_REDIS_URL"]
    tutorwatch.env["TUTORWATCH_DB"] = f"postgresql://postgres@127.0.0.1:{port}/tutorwatch"
    done = tutorwatch("crawl", "--source", str(path), check=False)
    assert done.returncode == 1
    assert f"cannot reach the PostgreSQL database 'tutorwatch' at 127.0.0.1:{port}" in (
        done.stderr.decode())
    assert handle.site.hits == {}


# --- distributed mode ---------------------------------------------------------------------------
def pages_by_worker(workers: list[dict]) -> list[dict]:
    """What each worker of a shared run fetched and stored, from its own Scrapy stats."""
    split = []
    for number, worker in enumerate(workers, 1):
        stats = worker.get("stats", {})
        split.append({
            "worker": f"{number} ({'started the crawl' if number == 1 else 'joined'}, "
                      f"{worker['id']})",
            "responses": stats.get("response_received_count", 0),
            "list": stats.get("tutorwatch/pages/list", 0),
            "detail": stats.get("tutorwatch/pages/detail", 0),
            "ads": stats.get("item_scraped_count", 0),
        })
    return split


def describe_split(split: list[dict], pages: int, ads: int) -> str:
    lines = [f"how {pages} pages split between {len(split)} workers "
             f"(each page fetched once in all, {ads} ads stored once):"]
    for row in split:
        lines.append(f"  worker {row['worker']}: {row['responses']} responses = {row['list']} "
                     f"list + {row['detail']} detail + robots.txt; {row['ads']} ads")
    return "\n".join(lines)


def test_two_workers_share_one_crawl_of_1000_pages_each_fetched_once(
    bulk, tmp_path, tutorwatch, redis_env, record_property
):
    # Detail pages take 0.3 s, so that one process alone needs over 30 s for the 900 of them
    # (8 at a time). The second process starts only once the first has announced the crawl,
    # and its start-up took 6 s and more here while the first crawled: at full speed, the first
    # had fetched nearly every page by then.
    handle = bulk(pages=1000, delay=0.3)
    site = handle.site
    path = write_source(tmp_path, handle)
    tutorwatch("migrate", "-v", "0")
    worker = popen(tutorwatch, "worker", "--poll", "0.3", env=redis_env)
    try:
        first = popen(tutorwatch, "crawl", "--source", str(path), env=redis_env)
        out, err = first.communicate(timeout=400)
        assert first.returncode == 0, err.decode()[-3000:]
        wait_for(lambda: store(tutorwatch)["runs"][0]["status"] != "running", timeout=60,
                 what="the shared run to be finalised")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=120)
        if first.poll() is None:
            first.kill()
            first.communicate()

    pages = {path: n for path, n in site.hits.items() if path != "/robots.txt"}
    ads = export(tutorwatch)
    [run] = store(tutorwatch)["runs"]
    split = pages_by_worker(run["workers"])
    # Shown with `pytest -rP` (or -s), and kept in the JUnit XML report.
    print(describe_split(split, len(pages), len(ads)))
    record_property("pages_by_worker", split)

    assert len(pages) == 1000
    assert set(pages.values()) == {1}, {p: n for p, n in pages.items() if n != 1}
    assert len(ads) == len({ad["url"] for ad in ads}) == site.details == 900
    assert (run["status"], run["items"]) == ("finished", 900)
    # Both processes shared the pages. The worker may join once more while the crawl winds
    # down (it joins when a worker is still busy); such a late joiner finds nothing left.
    by_worker = [w["responses"] for w in split]
    assert len(by_worker) in (2, 3)
    assert all(n > 1 for n in by_worker[:2]) and sum(by_worker[:2]) == 1000 + 2  # + robots.txt
    assert all(n <= 1 for n in by_worker[2:])  # a late joiner: robots.txt at most

    import redis

    server = redis.Redis.from_url(redis_env["TUTORWATCH_REDIS_URL"])
    assert list(server.scan_iter(f"{redis_env['TUTORWATCH_REDIS_PREFIX']}:*")) == []


def test_redis_lost_mid_crawl_fails_visibly_and_a_rerun_loses_and_duplicates_nothing(
    bulk, tmp_path, tutorwatch, redis_env
):
    handle = bulk(pages=200, delay=0.01)
    path = write_source(tmp_path, handle)
    tutorwatch("migrate", "-v", "0")
    real = urlsplit(redis_env["TUTORWATCH_REDIS_URL"])
    proxy = TcpProxy(real.hostname, real.port or 6379)
    proxied = {**redis_env, "TUTORWATCH_REDIS_URL":
               redis_env["TUTORWATCH_REDIS_URL"].replace(f":{real.port}", f":{proxy.port}")}
    crawl = popen(tutorwatch, "crawl", "--source", str(path), env=proxied)
    try:
        # Cut once pages are fetched and some ads stored (a loaded machine may fetch 40 pages
        # before the store's first batch lands).
        db = tutorwatch.env["TUTORWATCH_DB"]
        wait_for(lambda: detail_hits(handle) >= 40 and count_ads(db) > 0,
                 what="the crawl to fetch pages and store some ads")
        proxy.cut()
        out, err = crawl.communicate(timeout=120)
    finally:
        if crawl.poll() is None:
            crawl.kill()
            crawl.communicate()
    assert crawl.returncode == 1
    assert "bulk: redis_unavailable" in out.decode()
    [run] = store(tutorwatch)["runs"]
    assert (run["status"], run["finish_reason"]) == ("failed", "redis_unavailable")
    stored_before = len(export(tutorwatch))
    assert 0 < stored_before < handle.site.details

    popen_env = dict(redis_env)
    rerun = popen(tutorwatch, "crawl", "--source", str(path), env=popen_env)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err.decode()[-3000:]
    ads = export(tutorwatch)
    assert len(ads) == len({ad["url"] for ad in ads}) == handle.site.details
    assert f"stored earlier and not due {stored_before}" in out.decode()


def test_postgresql_lost_mid_crawl_fails_visibly_and_a_rerun_loses_and_duplicates_nothing(
    bulk, tmp_path, tutorwatch, fresh_db_url
):
    if not fresh_db_url.startswith("postgresql"):
        pytest.skip("needs TUTORWATCH_TEST_PG (a PostgreSQL server to lose)")
    handle = bulk(pages=200, delay=0.01)
    path = write_source(tmp_path, handle)
    tutorwatch("migrate", "-v", "0")
    real = urlsplit(fresh_db_url)
    proxy = TcpProxy(real.hostname, real.port or 5432)
    proxied = fresh_db_url.replace(f"{real.hostname}:{real.port}", f"127.0.0.1:{proxy.port}")
    crawl = popen(tutorwatch, "crawl", "--source", str(path), env={"TUTORWATCH_DB": proxied})
    try:
        # Cut once pages are fetched and some ads stored (a loaded machine may fetch 40 pages
        # before the store's first batch lands).
        wait_for(lambda: detail_hits(handle) >= 40 and count_ads(fresh_db_url) > 0,
                 what="the crawl to fetch pages and store some ads")
        proxy.cut()
        out, err = crawl.communicate(timeout=120)
    finally:
        if crawl.poll() is None:
            crawl.kill()
            crawl.communicate()
    assert crawl.returncode == 1
    assert "bulk: store_unavailable" in out.decode()
    stored_before = len(export(tutorwatch))
    assert 0 < stored_before < handle.site.details
    # The crawl could not record its end; the next scheduler start finds it dead.
    done = tutorwatch("schedule", "--check", "--sources", str(path))
    assert "marked interrupted (process died)" in done.stdout.decode()

    tutorwatch("crawl", "--source", str(path))
    ads = export(tutorwatch)
    assert len(ads) == len({ad["url"] for ad in ads}) == handle.site.details
    assert [r["status"] for r in store(tutorwatch)["runs"]] == ["interrupted", "finished"]
