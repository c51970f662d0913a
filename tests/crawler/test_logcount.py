"""Each crawl of a process counts its own log records (crawler/extensions/logcount.py)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest
from scrapy.settings import Settings
from scrapy.statscollectors import MemoryStatsCollector

from crawler.extensions.logcount import CrawlLogCounter
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def two_crawls(tmp_path_factory) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "tests.crawler.two_crawls"], cwd=ROOT, capture_output=True,
        timeout=120,
        env={**os.environ, "TUTORWATCH_DATA_DIR": str(tmp_path_factory.mktemp("data"))},
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    return json.loads(done.stdout.decode().strip().splitlines()[-1])


def test_an_error_of_one_crawl_is_counted_by_that_crawl_alone(two_crawls):
    assert two_crawls["noisy"]["finish_reason"] == "finished"
    assert two_crawls["quiet"]["finish_reason"] == "finished"
    assert two_crawls["noisy"]["log_count/ERROR"] == 1
    assert two_crawls["quiet"].get("log_count/ERROR", 0) == 0


def test_an_error_naming_no_crawl_while_two_run_is_counted_apart_by_both(two_crawls):
    for name in ("noisy", "quiet"):
        assert two_crawls[name]["log_count/unattributed/ERROR"] == 1, name


def test_a_record_naming_no_crawl_is_the_only_open_crawls_own(two_crawls):
    assert two_crawls["quiet"]["log_count/WARNING"] == 1
    assert "log_count/unattributed/WARNING" not in two_crawls["quiet"]
    assert "log_count/WARNING" not in two_crawls["noisy"]  # it had closed


def test_the_counter_leaves_other_crawls_records_and_records_below_its_level_alone():
    mine, other = object(), object()
    stats = MemoryStatsCollector(type("Crawler", (), {"settings": Settings()})())
    counter = CrawlLogCounter(mine, stats, logging.WARNING)
    logger = logging.getLogger("tests.logcount")
    counter.install()
    try:
        logger.error("mine", extra={"crawler": mine})
        logger.error("another crawl's", extra={"crawler": other})
        logger.error("a spider's", extra={"spider": type("S", (), {"crawler": mine})()})
        logger.info("below the level", extra={"crawler": mine})
    finally:
        counter.remove()
    logger.error("after the crawl closed", extra={"crawler": mine})
    assert stats.get_stats() == {"log_count/ERROR": 2}
