"""One crawl of the hostile site with the project's default settings (no ``-s`` override):
it ends by itself in bounded time, stores every good post once with its text intact, counts
each bad URL under its reason, and groups the reposts under one review item."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, database_for_subprocess, subprocess_env
from tests.crawler import store_view
from tests.crawler.hostile_site import BAD, GOOD, REPOSTS, SKIPPED, HostileSite, expected_text

pytestmark = pytest.mark.slow

# Stalls cost DOWNLOAD_TIMEOUT (10 s) twice; everything else runs meanwhile.
BOUND_SECONDS = 120


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    site = HostileSite().start()
    directory = tmp_path_factory.mktemp("hostile")
    source = directory / "hostile.yaml"
    source.write_text(site.source("hostile", ["/list/1", "/calendar/2026-11-01"]), encoding="utf-8")
    try:
        with database_for_subprocess(directory) as db_url:
            env = subprocess_env(db_url, directory / "data")
            cli = [sys.executable, "-m", "review_ui.cli"]
            subprocess.run([*cli, "migrate", "-v", "0"], env=env, cwd=ROOT, check=True, timeout=120)
            started = time.monotonic()
            done = subprocess.run([*cli, "crawl", "--source", str(source)], env=env, cwd=ROOT,
                                  capture_output=True, timeout=BOUND_SECONDS + 60)
            elapsed = time.monotonic() - started
            status, stats = store_view.last_run_stats(db_url)
            yield {
                "site": site, "done": done, "elapsed": elapsed, "ads": store_view.ads(db_url),
                "status": status, "stats": stats, "db_url": db_url,
                "items": store_view.store_state(db_url)["review_items"],
            }
    finally:
        site.stop()


def test_the_crawl_ends_by_itself_in_bounded_time(crawl):
    done = crawl["done"]
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    assert b"hostile: finished" in done.stdout
    assert crawl["status"] == "finished"
    assert crawl["elapsed"] < BOUND_SECONDS


def test_every_good_post_is_stored_once_with_its_text_intact(crawl):
    base = crawl["site"].url
    expected = {**GOOD, **REPOSTS}
    assert sorted(crawl["ads"]) == sorted(base + path for path in expected)
    for path, post in expected.items():
        ad = crawl["ads"][base + path]
        assert ad["title"] == post.title, path
        assert ad["text"] == expected_text(post), path
        assert post.phone in ad["phones"], path
        assert "\ufffd" not in ad["title"] + ad["text"], path


def test_ads_whose_markup_defeats_the_selectors_are_stored_marked_with_their_raw_page(crawl):
    base, stats = crawl["site"].url, crawl["stats"]
    fallbacks = {path: post for path, post in GOOD.items() if post.extraction}
    assert sorted(post.extraction for post in fallbacks.values()) == ["html.parser", "page_text"]
    for path, post in {**GOOD, **REPOSTS}.items():
        ad = crawl["ads"][base + path]
        assert ad["extraction"] == post.extraction, path
        assert ad["raw_sha256"], path
    assert stats["tutorwatch/items/extracted/fallback"] == 2
    assert stats["tutorwatch/items/extracted/fallback/html.parser"] == 1
    assert stats["tutorwatch/items/extracted/fallback/page_text"] == 1
    assert "tutorwatch/items/dropped/empty" not in stats
    assert crawl["status"] == "finished"  # one page kept as its whole text is no layout change


def test_the_crawl_logs_no_deprecation_warning(crawl):
    # Every crawl logged one while ClassifyPipeline.process_item returned a Deferred.
    assert b"DeprecationWarning" not in crawl["done"].stderr


def test_each_bad_url_is_counted_once_under_its_reason(crawl):
    stats, base = crawl["stats"], crawl["site"].url
    for path, reason in BAD.items():
        assert stats.get(f"tutorwatch/failed/{reason}") == 1, (path, reason)
        assert stats["tutorwatch/failed_urls"][reason] == [base + path]
    assert set(stats["tutorwatch/failed_urls"]) == set(BAD.values())
    for reason in SKIPPED.values():
        assert stats.get(f"tutorwatch/skipped/{reason}") == 1, reason
    summary = crawl["done"].stdout.decode()
    assert f"failed pages {len(BAD)} (" in summary
    assert "js_only 1" in summary and "timeout 1" in summary and "redirect_loop 1" in summary


def test_robots_txt_forbidden_pages_are_never_fetched(crawl):
    hits = crawl["site"].hits
    assert hits["/robots.txt"] >= 1
    assert not any(path.startswith("/private/") for path in hits)


def test_servers_asking_to_wait_are_retried_after_the_wait(crawl):
    hits, stats = crawl["site"].hits, crawl["stats"]
    assert hits["/post/retry-after"] == 2
    assert all(hits[f"/post/burst-{n}"] == 2 for n in (1, 2, 3))
    assert hits["/post/unavailable"] == 1  # Retry-After: 7200 is more than we wait
    assert stats["tutorwatch/retry/waited"] >= 4
    assert hits["/post/stall"] == 2  # one retry for a timeout
    assert hits["/post/broken"] == 3  # RETRY_TIMES = 2


def test_an_endless_calendar_stops_when_pages_bring_no_new_links(crawl):
    stats, hits = crawl["stats"], crawl["site"].hits
    assert stats["tutorwatch/paging/stopped/no_new_links"] == 1
    assert sum(1 for path in hits if path.startswith("/calendar/")) == 3


def test_charset_decisions_are_counted(crawl):
    stats = crawl["stats"]
    # gb2312 <meta> over UTF-8, GBK under a UTF-8 header, a gbk <meta> under a UTF-8 header
    assert stats["tutorwatch/charset/overruled"] >= 3
    assert stats["tutorwatch/charset/detected"] >= 2  # bare UTF-8, bare GB18030
    assert stats["tutorwatch/charset/bom"] == 1
    assert stats["tutorwatch/charset/binary"] == 1
    base = crawl["site"].url
    assert crawl["ads"][base + "/post/bytes-only-gb18030"]["encoding"] == "gb18030"
    assert crawl["ads"][base + "/post/meta-lies"]["encoding"] == "utf-8"
    assert crawl["ads"][base + "/post/header-lies"]["encoding"] == "gb18030"


def test_reposts_are_one_group_with_at_most_one_review_item(crawl):
    base = crawl["site"].url
    groups = {crawl["ads"][base + path]["group"] for path in REPOSTS}
    assert len(groups) == 1 and None not in groups
    members = tuple(sorted(base + path for path in REPOSTS))
    flagged = any(crawl["ads"][url]["label"] for url in members)
    assert crawl["items"].get(members, 0) == (1 if flagged else 0)
    others = [url for url, ad in crawl["ads"].items() if url not in members]
    assert all(crawl["ads"][url]["group"] is None for url in others)


def test_the_summary_and_run_record_say_what_failed(crawl):
    stats = crawl["stats"]
    assert Path  # the run record keeps failed URLs by reason, capped, for the officer's report
    assert stats["tutorwatch/failed_urls"]["timeout"] == [crawl["site"].url + "/post/stall"]
