"""Records each crawl of a source as a run in the store, as Spidermon's monitors watch a crawl
from an extension: started when the crawl opens, kept alive while it goes, finished with its
stats when it closes (the store then checks its health and raises alerts: ``review_ui.runs``).

In distributed mode the workers of a shared crawl record one run together: the first creates
it, the others join it (:meth:`crawler.distributed.SharedCrawl.claim_run`), and each one's end
is recorded, the last one's finishing the run.

The run's start and end are recorded on a thread of this extension's own; its heartbeats go
to the crawl's pipeline worker, behind the ads handed in before them, so that a stuck worker
stops the heartbeats and the run goes stale, as a stuck crawl should. The run's id is
announced (``crawler.signals.run_started``) before the first item, and kept in the stats
(``tutorwatch/run``). A start that cannot be recorded stops the crawl at once (reason
``run_not_recorded``); an end that cannot be is logged, and the run is marked interrupted
when found dead.

Settings: ``TUTORWATCH_RECHECK`` and ``TUTORWATCH_TRIGGER`` (what the run records),
``TUTORWATCH_RUN_ID`` (record into this run, started elsewhere, without starting or finishing
it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.utils.defer import deferred_from_coro
from twisted.internet import task

from crawler.extensions.pipeline_worker import crawl_worker
from crawler.pipelines.base import crawl_stopper, for_sources_only
from crawler.pipelines.worker import PipelineWorker
from crawler.signals import run_started, shared_crawl_opened
from review_ui.store import Store

logger = logging.getLogger(__name__)


class CrawlRunRecorder:
    """``purpose``: ``crawl`` or ``recheck``; ``trigger``: ``manual`` or ``scheduled``;
    ``run_id``: a run started elsewhere. ``worker`` gives the crawl's pipeline worker (for
    the heartbeats), ``announce`` tells the crawl the run's id, ``stop`` closes the crawl."""

    HEARTBEAT_SECONDS = 30.0

    def __init__(self, store: Store, purpose: str = "crawl", trigger: str = "manual",
                 run_id: int | None = None, stats: Any = None,
                 worker: Callable[[], PipelineWorker] | None = None,
                 announce: Callable[[int], None] | None = None,
                 stop: Callable[[str], None] | None = None,
                 log_extra: dict[str, Any] | None = None) -> None:
        self.store, self.purpose, self.trigger = store, purpose, trigger
        self.run_id, self.own_run = run_id, run_id is None
        self.stats, self.worker, self.announce, self.stop = stats, worker, announce, stop
        self.log_extra = log_extra or {}
        self.shared: Any = None  # the shared crawl this worker takes part in, if any
        self._heartbeat: task.LoopingCall | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tutorwatch-runs")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlRunRecorder:
        for_sources_only(crawler)
        settings = crawler.settings
        recorder = cls(
            Store(), purpose="recheck" if settings.getbool("TUTORWATCH_RECHECK") else "crawl",
            trigger=settings.get("TUTORWATCH_TRIGGER") or "manual",
            run_id=settings.getint("TUTORWATCH_RUN_ID") or None, stats=crawler.stats,
            worker=partial(crawl_worker, crawler),
            announce=lambda run_id: crawler.signals.send_catch_log(run_started, run_id=run_id),
            stop=crawl_stopper(crawler), log_extra={"crawler": crawler},
        )
        crawler.signals.connect(recorder.shared_crawl_opened, signal=shared_crawl_opened)
        crawler.signals.connect(recorder.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(recorder.spider_closed, signal=signals.spider_closed)
        return recorder

    def shared_crawl_opened(self, shared: Any) -> None:
        self.shared = shared

    async def _call(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        """``func`` on the recorder's thread."""
        return await asyncio.get_running_loop().run_in_executor(
            self._thread, partial(func, *args, **kwargs))

    async def spider_opened(self, spider: Any) -> None:
        if self.own_run:
            try:
                self.run_id = await self._start(spider.source)
            except Exception as exc:
                logger.error("could not record the start of the crawl run (%s); stopping the "
                             "crawl", exc, extra=self.log_extra)
                if self.stop is not None:
                    self.stop("run_not_recorded")
                return
            self._heartbeat = task.LoopingCall(self._beat)
            self._heartbeat.start(self.HEARTBEAT_SECONDS, now=False)
        if self.run_id is not None:
            if self.stats is not None:
                self.stats.set_value("tutorwatch/run", str(self.run_id))
            if self.announce is not None:
                self.announce(self.run_id)

    async def _start(self, source: Any) -> int:
        if self.shared is None:
            return await self._call(self.store.start_run, source.raw, source.path,
                                    purpose=self.purpose, trigger=self.trigger)

        def create() -> int:
            return self.store.start_run(source.raw, source.path, purpose=self.purpose,
                                        trigger=self.trigger, exclusive=False)

        run_id, _ = await self._call(self.shared.claim_run, create, self.store.run_is_running,
                                     self.store.join_run)
        return run_id

    def _beat(self) -> Any:
        async def beat() -> None:
            try:
                await self.worker().call(self.store.beat, self.run_id)
            except Exception as exc:  # a missed heartbeat must not stop the crawl
                logger.warning("could not record a sign of life for run %s: %s", self.run_id, exc,
                               extra=self.log_extra)

        return deferred_from_coro(beat())

    async def spider_closed(self, spider: Any, reason: str) -> None:
        if self._heartbeat is not None and self._heartbeat.running:
            self._heartbeat.stop()
        try:
            if self.own_run and self.run_id is not None:
                await self._finish(reason)
        finally:
            # The recorder's thread has database connections of its own: close them there,
            # before the thread ends, or they are left to the garbage collector.
            self._thread.submit(self.store.close)
            self._thread.shutdown(wait=True)

    async def _finish(self, reason: str) -> None:
        stats = self.stats.get_stats() if self.stats is not None else {}
        worker = self.shared.worker if self.shared is not None else None
        last = self.shared.was_last if self.shared is not None else True
        try:
            if reason == "store_unavailable":
                await self._call(self.store.close)  # a new connection for the run's end
            await self._call(self.store.finish_run, self.run_id, stats, reason,
                             worker_id=worker, last=last)
        except Exception as exc:
            logger.error("could not record the end of crawl run %s (%s); it will be "
                         "marked interrupted when found dead", self.run_id, exc,
                         extra=self.log_extra)
