"""A crawl never sends one site more simultaneous requests than ``CONCURRENT_REQUESTS_PER_DOMAIN``.

Scrapy 2.14 does not hold that limit under the asyncio reactor (docs/crawling.md, "Simultaneous
requests per site"); ``crawler.downloader.SlotLimitedDownloader`` does. A slow site on 127.0.0.1
counts the requests it is answering at once and keeps the most; real ``tutorwatch crawl``
subprocesses crawl it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from crawler.sandbox.server import SandboxServer
from tests.conftest import ROOT, database_for_subprocess, subprocess_env

PAGE_SECONDS = 0.3
ADS = 24

SOURCE = """\
name: busy
kind: html
start_urls: ["{base}/list"]
list:
  links: "a.ad::attr(href)"
detail:
  title: "h1::text"
  body: "div.body"
"""


class BusySite:
    """Every page takes ``seconds``; ``most`` is the largest number answered at once, ``starts``
    when each request came (``time.monotonic``) and for what path. The list page waits for
    ``gate`` to be set."""

    def __init__(self, ads: int = ADS, seconds: float = PAGE_SECONDS) -> None:
        self.ads = ads
        self.seconds = seconds
        self.gate = threading.Event()
        self.gate.set()
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0
        self.starts: list[tuple[float, str]] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:  # noqa: N802
                with site.lock:
                    site.now += 1
                    site.most = max(site.most, site.now)
                    site.starts.append((time.monotonic(), self.path))
                try:
                    if self.path == "/list":
                        site.gate.wait(60)
                    time.sleep(site.seconds)
                    self.reply(*site.page(self.path))
                finally:
                    with site.lock:
                        site.now -= 1

            def reply(self, status: int, html: str) -> None:
                body = html.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = SandboxServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def page(self, path: str) -> tuple[int, str]:
        if path == "/list":
            links = "".join(f'<a class="ad" href="/ad/{n}">{n}</a>' for n in range(self.ads))
            return 200, f"<html><body>{links}</body></html>"
        if match := re.fullmatch(r"/ad/(\d+)", path):
            n = match.group(1)
            return 200, (f"<html><body><h1>初中数学辅导 第{n}期</h1>"
                         f"<div class='body'>周末小班，第{n}期招生。</div></body></html>")
        return 404, "not found"

    def reset(self) -> None:
        with self.lock:
            self.most = 0
            self.starts.clear()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def site() -> Iterator[BusySite]:
    site = BusySite()
    yield site
    site.stop()


@pytest.fixture(scope="module")
def crawl(site: BusySite, tmp_path_factory: pytest.TempPathFactory):
    """``crawl(*settings, env=...)`` runs ``tutorwatch crawl`` of the busy site (every page
    fetched again each time) and gives the most requests the site answered at once."""
    tmp = tmp_path_factory.mktemp("busy")
    source = tmp / "busy.yaml"
    source.write_text(SOURCE.format(base=site.url), encoding="utf-8")
    with database_for_subprocess(tmp) as db:
        env = subprocess_env(db, tmp / "data")
        cli = [sys.executable, "-m", "review_ui.cli"]
        subprocess.run([*cli, "migrate", "-v", "0"], env=env, cwd=ROOT, check=True, timeout=120)

        def run(*settings: str, env_extra: dict[str, str] | None = None) -> int:
            site.reset()
            args = ["crawl", "--source", str(source), "-s", "TUTORWATCH_INCREMENTAL=0"]
            for setting in settings:
                args += ["-s", setting]
            done = subprocess.run([*cli, *args], env={**env, **(env_extra or {})}, cwd=ROOT,
                                  capture_output=True, timeout=180)
            out = done.stdout.decode(errors="replace")
            assert done.returncode == 0, out + done.stderr.decode(errors="replace")[-3000:]
            assert f"pages {ADS + 2}" in out, out  # robots.txt, the list and every ad
            return site.most

        yield run


def test_a_crawl_sends_one_site_no_more_simultaneous_requests_than_its_limit(crawl):
    assert crawl("CONCURRENT_REQUESTS_PER_DOMAIN=2") == 2


def test_the_default_limit_of_eight_per_site_holds(crawl):
    # CONCURRENT_REQUESTS is 16: without the limit, the site gets up to 16 at once.
    assert crawl() == 8


@pytest.mark.slow
@pytest.mark.pg
def test_the_limit_holds_with_a_download_delay(crawl):
    assert crawl("CONCURRENT_REQUESTS_PER_DOMAIN=2", "DOWNLOAD_DELAY=0.05") <= 2


@pytest.mark.slow
@pytest.mark.pg
def test_the_limit_holds_for_a_single_worker_of_a_shared_crawl(crawl):
    url = os.environ.get("TUTORWATCH_TEST_REDIS")
    if not url:
        pytest.skip("TUTORWATCH_TEST_REDIS is not set (a Redis URL, e.g. redis://127.0.0.1:6379/15)")
    redis = {"TUTORWATCH_REDIS_URL": url,
             "TUTORWATCH_REDIS_PREFIX": f"twtest-{uuid.uuid4().hex[:8]}"}
    assert crawl("CONCURRENT_REQUESTS_PER_DOMAIN=2", env_extra=redis) == 2


def test_the_busy_site_counts_simultaneous_requests(site: BusySite):
    """The measuring stick itself: four requests sent at once are seen as four."""
    import urllib.request

    site.reset()
    threads = [threading.Thread(target=urllib.request.urlopen, args=(f"{site.url}/ad/{n}",))
               for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert site.most == 4

