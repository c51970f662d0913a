"""What every tutorwatch pipeline stage shares: acting only on crawls of a source, counting
outcomes as stats, and the one way a stage stops the crawl."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import deferred_from_coro

from crawler.pipelines.worker import PipelineWorker
from crawler.spiders.base import crawls_a_source

logger = logging.getLogger(__name__)


def for_sources_only(crawler: Crawler) -> None:
    """Turn a component off (``NotConfigured``) unless the crawl is a crawl of a tutorwatch
    source."""
    if not crawls_a_source(getattr(crawler, "spidercls", None)):
        raise NotConfigured


def crawl_stopper(crawler: Crawler) -> Callable[[str], None]:
    """A function that closes the crawl with a reason (``store_unavailable``), once it runs."""

    def stop(reason: str) -> None:
        engine = crawler.engine
        if engine is not None and engine.spider is not None:
            deferred_from_coro(engine.close_spider_async(reason=reason))

    return stop


class Stage:
    """A pipeline stage: ``stats`` counts what it does (``tutorwatch/<key>``); ``stop`` closes
    the crawl when nothing more can be scored or stored; ``log_extra`` names the crawl on the
    stage's log records."""

    def __init__(self, stats: Any = None, stop: Callable[[str], None] | None = None,
                 log_extra: dict[str, Any] | None = None) -> None:
        self.stats = stats
        self.stop = stop
        self.log_extra = log_extra or {}

    def count(self, key: str, value: int = 1) -> None:
        if self.stats is not None:
            self.stats.inc_value(f"tutorwatch/{key}", value)

    def stop_crawl(self, message: str, *args: Any) -> None:
        """Log why, and close the crawl with reason ``store_unavailable``: a rerun fetches
        the pages whose ads were not stored."""
        logger.error(message, *args, extra=self.log_extra)
        if self.stop is not None:
            self.stop("store_unavailable")

    def worker_lost(self, worker: PipelineWorker, exc: Exception) -> None:
        """Stop the crawl, once, when its pipeline worker process is gone (it died, or sent
        back what could not be read, and the pool stopped it): nothing can be scored or stored
        any more, and a rerun fetches the pages whose ads were not stored."""
        if worker.lost:
            return
        worker.lost = True
        self.stop_crawl("the pipeline worker process is gone (%s); stopping the crawl (a rerun "
                        "fetches what was not stored)", str(exc) or type(exc).__name__)
