"""The crawl's screenshot worker, as an extension: a crawl that flags an ad starts the capture
worker (``tutorwatch capture --with-crawl``, a process of its own, through the store's door)
as it closes, held back by a small launcher until the crawl's engine has stopped, or beside it
once ``TUTORWATCH_CAPTURE_DELAY`` seconds have passed since its first flagged ad; it tells the
worker when the crawl is over by closing its standard input. The worker
captures the pending screenshots (one browser for the store, at most
``TUTORWATCH_CAPTURE_RATE`` a minute), catches up once the crawl has ended, and exits; the
crawl never waits on it. Its log goes to ``<data dir>/logs/capture.log``.

Why not at the first flagged ad: the worker's start (Python, Django, Playwright, Chromium) costs
a few seconds of a core, which on two cores made a crawl of a hundred flagged ads 1.17 times
slower even at the lowest CPU priority (docs/benchmarks.md); its captures only start seconds
after the request anyway. A short crawl ends first and the captures follow it; a long one has
its worker beside it after the delay, where its start is a small share of the crawl.

Off for crawls that are not of a source, with ``TUTORWATCH_CAPTURE`` off, or without a browser
(``TUTORWATCH_CHROMIUM``); the captures then wait for ``tutorwatch capture``.

Settings: ``TUTORWATCH_CAPTURE``, ``TUTORWATCH_CAPTURE_DELAY``, ``TUTORWATCH_CAPTURE_RATE``,
``TUTORWATCH_CAPTURE_TIMEOUT``, ``TUTORWATCH_CHROMIUM``, and the crawl's
``TUTORWATCH_ALLOW_NETWORKS`` (handed to the worker).
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawler.network import SETTING, parse_networks
from crawler.pipelines.base import for_sources_only
from review_ui.store import Store

logger = logging.getLogger(__name__)


class CaptureWorkerExtension:
    def __init__(self, store: Any, rate: float, timeout: float, networks: str,
                 stats: Any = None, delay: float = 0.0) -> None:
        self.store, self.rate, self.timeout, self.networks = store, rate, timeout, networks
        self.stats, self.delay = stats, delay
        self.process: Any = None
        self.first_flagged: float | None = None  # time.monotonic() at the first flagged ad

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CaptureWorkerExtension:
        for_sources_only(crawler)
        settings = crawler.settings
        if not settings.getbool("TUTORWATCH_CAPTURE", True):
            raise NotConfigured("screenshots are off (TUTORWATCH_CAPTURE)")
        if not settings.get("TUTORWATCH_CHROMIUM"):
            logger.warning("no Chromium (TUTORWATCH_CHROMIUM): flagged ads wait for "
                           "`tutorwatch capture` for their screenshots")
            raise NotConfigured("no Chromium")
        networks = ",".join(str(net) for net in parse_networks(settings.get(SETTING)))
        extension = cls(Store(), settings.getfloat("TUTORWATCH_CAPTURE_RATE", 20.0),
                        settings.getfloat("TUTORWATCH_CAPTURE_TIMEOUT", 30.0), networks,
                        crawler.stats, settings.getfloat("TUTORWATCH_CAPTURE_DELAY", 300.0))
        crawler.signals.connect(extension.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(extension.engine_stopped, signal=signals.engine_stopped)
        return extension

    def item_scraped(self, item: Any, **kwargs: Any) -> None:
        if self.process is not None or not isinstance(item, dict):
            return
        if self.first_flagged is None:
            if not (item.get("verdict") or {}).get("label"):
                return
            self.first_flagged = time.monotonic()
        # Checked at each item: a crawl long enough to pass the delay keeps scraping items.
        if time.monotonic() - self.first_flagged >= self.delay:
            self.start()

    def start(self, held: bool = False) -> None:
        """Start the worker (the ad that called for it is stored, with its request); ``held``:
        held back until the crawl is over (:meth:`crawl_over`)."""
        try:
            self.process = self.store.start_capture_worker(self.rate, self.timeout,
                                                           self.networks, held=held)
        except OSError as exc:
            logger.error("could not start the capture worker: %s; the screenshots wait for "
                         "`tutorwatch capture`", exc)
            self.process = False
            return
        logger.info("capturing screenshots in process %s", self.process.pid)
        if self.stats is not None:
            self.stats.set_value("tutorwatch/capture/worker_pid", self.process.pid)

    def spider_closed(self, spider: Any) -> None:
        # The last ads are stored (the pipeline worker's extension closed first). A worker
        # started now is named in the run's stats (the run recorder closes after this
        # extension), and held back until the engine has stopped.
        if self.process is None and self.first_flagged is not None:
            self.start(held=True)
        else:
            self.crawl_over()

    def engine_stopped(self) -> None:
        self.crawl_over()

    def crawl_over(self) -> None:
        """Tell the worker the crawl is over: it catches up on its own time. Never wait for it."""
        if self.process:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
