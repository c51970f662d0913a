"""A crawl reaches only its source's sites and never an inside address outside
``TUTORWATCH_ALLOW_NETWORKS``: redirects, re-checks (``dont_filter``) and stored ads included.

Real ``tutorwatch crawl`` subprocesses crawl an ad site on 127.0.0.1 with
``TUTORWATCH_ALLOW_NETWORKS=127.0.0.1/32``; 127.0.0.2 stands for a host inside the bureau's
network and 127.0.0.3 for another site, both really served (``tests/crawler/guarded_sites.py``).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import ROOT, database_for_subprocess, subprocess_env
from tests.crawler import store_view
from tests.crawler.guarded_sites import ADS, SOURCE, RecordingServer, ad_site

METADATA = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"


@dataclass
class Sites:
    ads: RecordingServer
    inside: RecordingServer
    other: RecordingServer

    def stop(self) -> None:
        for server in (self.ads, self.inside, self.other):
            server.stop()


@pytest.fixture(scope="module")
def sites() -> Iterator[Sites]:
    sites = Sites(ad_site(["/moved-to-metadata"]), RecordingServer("127.0.0.2"),
                  RecordingServer("127.0.0.3"))
    sites.ads.redirect("/moved-to-metadata", METADATA)
    yield sites
    sites.stop()


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "review_ui.cli", *args], env=env, cwd=ROOT,
                          capture_output=True, timeout=180)
    assert done.returncode in (0, 1), done.stderr.decode(errors="replace")[-3000:]
    return done


@dataclass
class Crawled:
    db: str
    first: dict[str, Any]       # stats of the first crawl
    recheck: dict[str, Any]     # stats of the re-check after the ads turned into redirects
    recheck_log: str
    inside_hits: int            # after the re-check
    other_hits: int
    stored_after_recheck: dict[str, dict[str, Any]]
    no_middleware: dict[str, Any]  # a crawl with the guard's middleware switched off
    inside_hits_no_middleware: int
    no_middleware_nor_resolver: dict[str, Any]  # and with Scrapy's own DNS resolver


@pytest.fixture(scope="module")
def crawled(sites: Sites, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawled]:
    """Crawl the ad site; then turn ads 0-2 into redirects to the inside host (which the source
    lists among its allowed_domains: only the network rule can stop them) and ads 3-5 into
    redirects to the other site (outside allowed_domains), and re-check every ad."""
    tmp = tmp_path_factory.mktemp("guarded")
    source = tmp / "guarded.yaml"
    domains = '"127.0.0.1", "127.0.0.2", "169.254.169.254"'
    source.write_text(SOURCE.format(base=sites.ads.url, domains=domains), encoding="utf-8")
    with database_for_subprocess(tmp) as db:
        env = {**subprocess_env(db, tmp / "data"), "TUTORWATCH_ALLOW_NETWORKS": "127.0.0.1/32"}
        _run(env, "migrate", "-v", "0")
        _run(env, "crawl", "--source", str(source))
        _, first = store_view.last_run_stats(db)
        for n in range(ADS):
            target = sites.inside if n < 3 else sites.other
            sites.ads.redirect(f"/ad/{n}", f"{target.url}/ad/{n}")
        done = _run(env, "crawl", "--recheck", "--source", str(source),
                    "-s", "TUTORWATCH_RECHECK_HOURS=0")
        _, recheck = store_view.last_run_stats(db)
        hits = sum(sites.inside.hits.values()), sum(sites.other.hits.values())
        stored = store_view.ads(db)
        # The layers behind the middleware, each with those before it switched off: the
        # resolver (at connect time), then the store's own check. (No metadata-service redirect
        # here: its connection would wait for a timeout.)
        sites.ads.pages["/moved-to-metadata"] = (404, {}, b"")
        crawl = ["crawl", "--source", str(source), "-s", "TUTORWATCH_INCREMENTAL=0", "-s",
                 'DOWNLOADER_MIDDLEWARES={"crawler.middlewares.network_guard.'
                 'NetworkGuardMiddleware": null}']
        _run(env, *crawl)
        _, no_middleware = store_view.last_run_stats(db)
        inside_hits = sum(sites.inside.hits.values())
        _run(env, *crawl, "-s", "DNS_RESOLVER=scrapy.resolver.CachingThreadedResolver")
        _, neither = store_view.last_run_stats(db)
        yield Crawled(db, first, recheck, done.stderr.decode(errors="replace"), *hits, stored,
                      no_middleware, inside_hits, neither)


def test_127_0_0_1_slash_32_lets_the_crawl_reach_127_0_0_1(crawled: Crawled):
    assert crawled.first.get("tutorwatch/items/stored/new") == ADS


def test_a_redirect_to_the_metadata_service_is_refused_before_any_connection(
        sites: Sites, crawled: Crawled):
    stats = crawled.first
    assert stats.get("tutorwatch/failed/blocked_network") == 1
    # Counted under the URL the crawl asked for.
    assert stats["tutorwatch/failed_urls"] == {
        "blocked_network": [f"{sites.ads.url}/moved-to-metadata"]}
    # A connection tried would have failed as a timeout or a network error.
    assert [key for key in stats if key.startswith("tutorwatch/failed/")] == [
        "tutorwatch/failed/blocked_network"]


def test_re_checked_ads_redirecting_inside_are_not_fetched(crawled: Crawled):
    assert crawled.inside_hits == 0
    assert crawled.recheck.get("tutorwatch/recheck/requested") == ADS
    assert crawled.recheck.get("tutorwatch/failed/blocked_network") == 3
    assert "127.0.0.2 is a loopback address, outside TUTORWATCH_ALLOW_NETWORKS (127.0.0.1/32)" \
        in crawled.recheck_log


def test_re_checked_ads_redirecting_off_site_are_refused_despite_dont_filter(crawled: Crawled):
    assert crawled.other_hits == 0
    assert crawled.recheck.get("tutorwatch/failed/offsite_redirect") == 3


def test_nothing_from_another_host_is_stored_and_the_ads_keep_their_text(crawled: Crawled):
    ads = crawled.stored_after_recheck
    assert len(ads) == ADS
    assert all(url.startswith("http://127.0.0.1:") for url in ads)
    assert not any("内部页面" in ad["title"] for ad in ads.values())
    assert store_view.query(crawled.db, "SELECT count(*) FROM review_ui_adversion") == [(0,)]


def test_the_resolver_refuses_an_inside_address_at_connect_time(crawled: Crawled):
    assert crawled.inside_hits_no_middleware == 0
    # Counted as DNS failures: the connection found no address it may use.
    assert crawled.no_middleware.get("tutorwatch/failed/dns") == 3


def test_the_store_refuses_an_ad_whose_final_url_is_inside(sites: Sites, crawled: Crawled):
    # Fetched (with robots.txt): the guards before were off.
    assert set(sites.inside.hits) == {"/robots.txt", "/ad/0", "/ad/1", "/ad/2"}
    assert crawled.no_middleware_nor_resolver.get("tutorwatch/failed/blocked_network") == 3
    assert set(store_view.ads(crawled.db)) == set(crawled.stored_after_recheck)


@pytest.mark.parametrize(("env", "args", "message"), [
    ({"TUTORWATCH_ALLOW_NETWORKS": "127.0.0.0/8,10.1.2.3/8"}, [],
     "TUTORWATCH_ALLOW_NETWORKS must be comma-separated networks such as 10.0.0.0/8; "
     "'10.1.2.3/8' is not one"),
    ({}, ["-s", "TUTORWATCH_ALLOW_NETWORKS=localhost"],
     "TUTORWATCH_ALLOW_NETWORKS: 'localhost' is not a network in CIDR notation"),
])
def test_a_malformed_allowed_network_stops_the_crawl_naming_it(tutorwatch, tmp_path, env, args,
                                                               message):
    source = tmp_path / "guarded.yaml"
    source.write_text(SOURCE.format(base="http://127.0.0.1:9", domains='"127.0.0.1"'),
                      encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "review_ui.cli", "crawl", "--source", str(source), *args],
        env={**tutorwatch.env, **env}, cwd=ROOT, capture_output=True, timeout=120)
    assert done.returncode == 2
    lines = done.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
