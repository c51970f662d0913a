"""When a crawl starts its screenshot worker (crawler/extensions/capture.py): as it closes, not
beside a short crawl (shorter than ``TUTORWATCH_CAPTURE_DELAY`` after its first flagged ad),
whose speed the worker's start would cost on two cores, and held back until the crawl's engine
has stopped; never for a crawl that flagged nothing. The worker is a real ``tutorwatch capture
--with-crawl`` process on a fresh store with nothing due: it exits once told the crawl is over.
(A real crawl and its captures catching up after it: tests/e2e/test_capture_crawl.py.)"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from crawler.extensions.capture import CaptureWorkerExtension
from review_ui.store import Store

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed"),
]
FLAGGED, NOT_FLAGGED = {"verdict": {"label": 1}}, {"verdict": {"label": 0}}


class Stats(dict):
    """The crawl's stats as the extension uses them (Scrapy's need a running crawler)."""

    def set_value(self, key: str, value: object) -> None:
        self[key] = value

    get_value = dict.get


def extension(delay: float) -> CaptureWorkerExtension:
    return CaptureWorkerExtension(Store(), rate=0, timeout=10, networks="127.0.0.0/8",
                                  stats=Stats(), delay=delay)


def test_a_short_crawl_starts_its_capture_worker_as_it_closes_and_none_without_a_flag(
        tutorwatch, fresh_db_url, tmp_path, monkeypatch):
    tutorwatch("migrate", "-v", "0")
    monkeypatch.setenv("TUTORWATCH_DB", fresh_db_url)
    monkeypatch.setenv("TUTORWATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TUTORWATCH_CHROMIUM", CHROMIUM)
    # The worker inherits the environment: tutorwatch's settings, not the test suite's.
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "review_ui.settings")

    nothing_flagged = extension(delay=0)
    nothing_flagged.item_scraped(NOT_FLAGGED)
    nothing_flagged.spider_closed(spider=None)
    assert nothing_flagged.process is None

    short = extension(delay=300)
    for item in (NOT_FLAGGED, FLAGGED, FLAGGED, NOT_FLAGGED):
        short.item_scraped(item)
    assert short.process is None  # not beside the crawl
    short.spider_closed(spider=None)
    assert short.process, "the crawl closed without starting its capture worker"
    assert short.stats.get_value("tutorwatch/capture/worker_pid") == short.process.pid
    # Held back (the launcher, not yet Python with Django) while the engine stops.
    time.sleep(0.5)
    assert short.process.poll() is None
    launcher = Path(f"/proc/{short.process.pid}/cmdline").read_bytes().split(b"\0")
    assert b"-c" in launcher and b"review_ui.cli" in launcher
    short.engine_stopped()
    assert short.process.wait(timeout=120) == 0  # told the crawl is over, nothing due

    log = (tmp_path / "data" / "logs" / "capture.log").read_text(encoding="utf-8")
    assert f"capture worker {short.process.pid} beside a crawl" in log
    assert "captured 0, failed 0" in log
