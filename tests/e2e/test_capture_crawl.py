"""A real ``tutorwatch crawl`` with screenshots on: the crawl, shorter than
``TUTORWATCH_CAPTURE_DELAY``, starts its capture worker as it closes, finishes without waiting
for it, and the worker catches up afterwards and exits. The site answers the browser slowly
(4 s a page) and the crawler at once, so a crawl that waited on the browser would show it.
Skipped without Debian's Chromium."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from crawler.processes import pid_alive
from tests.conftest import ROOT, subprocess_env
from tests.crawler import store_view
from tests.crawler.capture_site import SOURCE, CaptureSite
from tests.crawler.guarded_sites import ADS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.pg,  # the capture worker's lock is PostgreSQL's advisory lock there
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed"),
]
BROWSER_DELAY = 4.0


@pytest.fixture
def site():
    made = CaptureSite("127.0.0.1")
    yield made
    made.stop()


def captures(db_url: str) -> dict[str, str]:
    rows = store_view.query(db_url, "SELECT a.url, s.status FROM review_ui_screenshot s "
                                    "JOIN review_ui_ad a ON a.id = s.ad_id")
    return dict(rows)


def test_the_crawl_does_not_wait_for_its_captures_which_catch_up_after_it(
        site, tmp_path, fresh_db_url):
    site.browser_delay = BROWSER_DELAY
    source = tmp_path / "capture_site.yaml"
    source.write_text(SOURCE.format(base=site.url), encoding="utf-8")
    env = {**subprocess_env(fresh_db_url, tmp_path / "data"), "TUTORWATCH_CHROMIUM": CHROMIUM,
           "TUTORWATCH_CAPTURE": "1", "TUTORWATCH_CAPTURE_RATE": "0",
           "TUTORWATCH_CAPTURE_TIMEOUT": "20"}
    cli = [sys.executable, "-m", "review_ui.cli"]
    subprocess.run([*cli, "migrate", "-v", "0"], env=env, cwd=ROOT, check=True, timeout=120)

    done = subprocess.run([*cli, "crawl", "--source", str(source)], env=env, cwd=ROOT,
                          capture_output=True, timeout=180)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    ended = time.monotonic()
    at_end = captures(fresh_db_url)
    _, stats = store_view.last_run_stats(fresh_db_url)
    worker = int(stats["tutorwatch/capture/worker_pid"])
    try:
        assert len(at_end) == ADS  # every flagged ad has its request
        # Six pages at 4 s each: a crawl that had waited would find them all captured.
        assert list(at_end.values()).count("ok") < ADS
        while pid_alive(worker) and time.monotonic() - ended < 150:
            time.sleep(0.5)
        assert not pid_alive(worker), "the capture worker did not finish"
    finally:
        if pid_alive(worker):
            os.kill(worker, signal.SIGKILL)
    assert set(captures(fresh_db_url).values()) == {"ok"}
    assert all(site.browser_hits[f"/ad/{n}"] == 1 for n in range(ADS))
    log = (tmp_path / "data" / "logs" / "capture.log").read_text(encoding="utf-8")
    assert f"capture worker {worker} beside a crawl" in log
    assert f"captured {ADS}, failed 0" in log
