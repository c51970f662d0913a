"""The store stage: each ad, with its verdict, into the store through its one door
(:meth:`review_ui.store.Store.ingest`); takedown items (``{"takedown": ...}``, from
``crawler.incremental``) recorded as such.

The ORM is synchronous, so the reactor never calls it: ads and takedowns are written by the
crawl's pipeline worker (:mod:`crawler.pipelines.worker`, a child process by default), in
order, the ads in batches (:mod:`crawler.pipelines.batches`): those that arrive while the
worker is busy are stored together in the next transaction (at most ``BATCH_SIZE``), so an idle
crawl stores each ad at once and a busy one spends far less per ad. An ad's ``process_item``
returns only once its transaction is committed, so a crawl killed mid-batch has stored none of
that batch, and the rerun fetches those pages again.

The store must be ready when the crawl opens (``Store.check``), or the crawl does not start. A
database lost mid-crawl, like the loss of the worker process, stops the crawl with reason
``store_unavailable`` (``tutorwatch/store/errors`` counts the items not stored); any other error
fails only the ad at fault. Ads are stored under the crawl's run, which
:mod:`crawler.extensions.runs` records.

Settings: ``TUTORWATCH_KEEP_RAW`` (keep each ad's raw page as evidence).
"""

from __future__ import annotations

from concurrent.futures.process import BrokenProcessPool
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from crawler.extensions.pipeline_worker import started_crawl_worker
from crawler.pipelines.base import Stage, crawl_stopper, for_sources_only
from crawler.pipelines.batches import Batches
from crawler.pipelines.worker import PipelineWorker
from crawler.signals import run_started
from review_ui.store import Store, StoreUnavailable


class StorePipeline(Stage):
    """Store each ad, or record its takedown, under the crawl's run."""

    BATCH_SIZE = 100

    def __init__(self, store: Store, worker: PipelineWorker, keep_raw: bool = True,
                 stats: Any = None, **stage: Any) -> None:
        super().__init__(stats, **stage)
        self.store, self.worker, self.keep_raw = store, worker, keep_raw
        self.run_id: int | None = None  # the crawl's run, once recorded
        self.store_lost = False
        self._batches = Batches(worker, store.ingest, self.BATCH_SIZE, failed=self._failed,
                                done=lambda: self.count("store/transactions"),
                                extra=lambda: (self.run_id,), log_extra=self.log_extra)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        for_sources_only(crawler)
        store = Store()
        worker = started_crawl_worker(crawler)  # forked by the classify stage when there is one
        pipeline = cls(store, worker, crawler.settings.getbool("TUTORWATCH_KEEP_RAW", True),
                       crawler.stats, stop=crawl_stopper(crawler), log_extra={"crawler": crawler})
        crawler.signals.connect(pipeline.run_started, signal=run_started)
        return pipeline

    def run_started(self, run_id: int) -> None:
        self.run_id = run_id

    async def open_spider(self) -> None:
        await self.worker.call(self.store.check)
        # Not waited for: the worker loads what storing needs on first use (the place parser's
        # division tables, about 2 s) while the crawl fetches its first pages; the first batch
        # comes after it. A failure here goes unreported: storing the first batch meets it again.
        self.worker.submit(self.store.warm_up)

    async def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        if item.get("takedown"):
            try:
                recorded = await self.worker.call(self.store.record_takedown, item["url"],
                                                  item["takedown"], self.run_id)
            except Exception as exc:
                errors = self._failed(exc, [item])
                if errors is None:
                    raise
                raise errors[0] from None
            self.count("items/removed" if recorded else "items/still_removed")
            return item
        if not self.keep_raw:
            item["raw_body"] = b""
        result = await self._batches(item)
        self.count(f"items/stored/{result.outcome}")
        if result.queued:
            self.count("items/queued")
        if result.copy_of_queued:
            self.count("items/copies_of_queued")  # linked to its group's review item instead
        if result.changed:
            self.count("items/changed")
        if result.reappeared:
            self.count("items/reappeared")
        return item

    def _failed(self, exc: Exception, items: list[dict[str, Any]]) -> list[Exception] | None:
        """The one failure path. A database error, or the loss of the worker process, fails
        every item handed in and stops the crawl; anything else is an ad the store cannot
        take, found by storing the batch one ad at a time (None)."""
        if isinstance(exc, BrokenProcessPool):
            self.count("store/errors", len(items))
            self.worker_lost(self.worker, exc)
            why = "the pipeline worker is gone"
        elif isinstance(exc, StoreUnavailable):
            self.count("store/errors", len(items))
            if not self.store_lost:
                self.store_lost = True
                self.stop_crawl("the store failed, stopping the crawl (a rerun fetches what was "
                                "not stored): %s", exc)
            why = exc.cause
        else:
            return None
        return [DropItem(f"not stored ({why}): {item.get('url')}") for item in items]
