"""Make ``JOBDIR`` safe against a crawl that is killed outright (SIGKILL, power loss, OOM).

Scrapy's ``JOBDIR`` lets a crawl stopped cleanly (Ctrl-C once, SIGTERM) resume where it was: the
scheduler writes its queue state when it closes. A crawl killed outright never closes: its
``requests.seen`` file already lists every request it had scheduled, but the queue that held
the pending ones is gone, so a restart would treat them as done and lose those pages silently.

This extension writes a marker into ``JOBDIR`` when a crawl opens and removes it after Scrapy
has saved its state on a clean close. Finding the marker at start means the previous crawl
died: its frontier cannot be trusted, so it is discarded and the crawl starts again from the
start URLs. Nothing is lost (every page is crawled again) and nothing is duplicated (the store
upserts by URL in one transaction per ad, and an unchanged ad is left as it was). The restart is
counted as ``tutorwatch/jobdir/recovered_after_kill``.

Enabled whenever ``JOBDIR`` is set, for crawls of a tutorwatch source
(:func:`crawler.spiders.base.crawls_a_source`): restarting from the start URLs is safe only
because tutorwatch's store upserts by URL; any other spider keeps Scrapy's own ``JOBDIR``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.job import job_dir

from crawler.spiders.base import crawls_a_source

logger = logging.getLogger(__name__)
MARKER = "tutorwatch-crawl-running.json"
# What Scrapy keeps in JOBDIR: the duplicate filter, the scheduler's queues, the spider's state.
FRONTIER = ("requests.seen", "requests.queue", "spider.state")


def recover(directory: Path) -> bool:
    """Discard the frontier a killed crawl left in ``directory``; True when there was one."""
    if not (directory / MARKER).exists():
        return False
    for name in FRONTIER:
        path = directory / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    (directory / MARKER).unlink()
    return True


class CrashSafeJobDir:
    def __init__(self, directory: str, stats: Any = None) -> None:
        self.directory = Path(directory)
        self.stats = stats
        self.recovered = recover(self.directory)
        if self.recovered:
            logger.warning(
                "the previous crawl in %s did not shut down (killed?); its frontier is lost, so "
                "this crawl starts again from the start URLs (the store keeps every ad it has)",
                self.directory,
            )

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrashSafeJobDir:
        directory = job_dir(crawler.settings)
        if not directory:
            raise NotConfigured  # no JOBDIR: nothing to protect (and nothing worth a warning)
        if not crawls_a_source(crawler.spidercls):
            raise NotConfigured
        extension = cls(directory, crawler.stats)
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_opened(self, spider: Any) -> None:
        if self.recovered and self.stats is not None:
            self.stats.set_value("tutorwatch/jobdir/recovered_after_kill", 1)
        marker = self.directory / MARKER
        marker.write_text(json.dumps({"pid": os.getpid(), "spider": spider.name}), encoding="utf-8")

    def spider_closed(self, spider: Any, reason: str) -> None:
        # The scheduler has saved its queue by now (it closes before this signal is sent).
        (self.directory / MARKER).unlink(missing_ok=True)
