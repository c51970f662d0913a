"""Item pipelines: page → clean text → contacts → classify → store.

Each stage counts what it did as crawl stats (``tutorwatch/items/...``). The classify and store
stages never switch themselves off: a missing model or an unreachable database stops the crawl at
start with an error, rather than quietly crawling into nothing; a database lost mid-crawl stops it
with reason ``store_unavailable``, and so does the loss of the worker process that scores and
stores.

Takedown items (``{"takedown": ...}``, from ``crawler.incremental``) pass the text stages
untouched and are recorded by the store.

Every stage acts only on crawls of a tutorwatch source
(:func:`crawler.spiders.base.crawls_a_source`); for any other spider (``scrapy runspider``,
``scrapy shell``, ``scrapy fetch`` from the checkout) each stage turns itself off
(``NotConfigured``), so its items pass untouched and no model, worker process, store or crawl
run is touched.

The store pipeline writes through the store's one door (:class:`review_ui.store.Store`) and
records the crawl run there: started, kept alive, finished with its health checks; in
distributed mode the workers of a shared crawl record one run together.

Settings: ``TUTORWATCH_MODEL`` (model file), ``TUTORWATCH_FLAG_THRESHOLD`` (flag at or above
this score instead of the model's own threshold), ``TUTORWATCH_KEEP_RAW`` (keep raw pages),
``TUTORWATCH_RECHECK`` and ``TUTORWATCH_TRIGGER`` (what the run records),
``TUTORWATCH_CLASSIFY_IN_BATCHES`` and ``TUTORWATCH_PIPELINE_PROCESS`` (where scoring and
storing run: :mod:`crawler.pipeline_worker`).
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured
from scrapy.utils.defer import deferred_from_coro
from twisted.internet import task

from crawler.entities import extract_contact_field, extract_phones, extract_wechat_ids
from crawler.pipeline_worker import BrokenProcessPool, PipelineWorker
from crawler.spiders.base import crawls_a_source
from crawler.text import clean_text, parse_posted_at
from review_ui.store import Store, StoreUnavailable

logger = logging.getLogger(__name__)


def for_sources_only(crawler: Crawler) -> None:
    """Turn a stage off (``NotConfigured``) unless the crawl is a crawl of a tutorwatch
    source."""
    if not crawls_a_source(getattr(crawler, "spidercls", None)):
        raise NotConfigured


class _Counting:
    stats: Any = None

    def count(self, key: str, value: int = 1) -> None:
        if self.stats is not None:
            self.stats.inc_value(f"tutorwatch/{key}", value)


class CleanTextPipeline(_Counting):
    """Join title and body into the ad's text; drop items with nothing to read."""

    def __init__(self, stats: Any = None) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CleanTextPipeline:
        for_sources_only(crawler)
        return cls(crawler.stats)

    async def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        if item.get("takedown"):
            return item
        item["title"] = clean_text(item.get("title") or "").replace("\n", " ")[:500]
        item["body_text"] = clean_text(item.get("body_text") or "")
        if not item["title"] and not item["body_text"]:
            self.count("items/dropped/empty")
            raise DropItem(f"no title and no body at {item.get('url')}")
        if not item["title"]:
            item["title"] = item["body_text"].split("\n", 1)[0][:80]
        item["posted_at"] = parse_posted_at(item.get("posted_at_raw") or "")
        return item


class ContactsPipeline(_Counting):
    """Phones and WeChat ids from the contact field and the body."""

    def __init__(self, stats: Any = None) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ContactsPipeline:
        for_sources_only(crawler)
        return cls(crawler.stats)

    async def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        if item.get("takedown"):
            return item
        found = extract_contact_field(item.get("contact_raw") or "")
        text = f"{item['title']}\n{item['body_text']}"
        item["phones"] = list(dict.fromkeys(found["phones"] + extract_phones(text)))
        item["wechat_ids"] = list(dict.fromkeys(found["wechat_ids"] + extract_wechat_ids(text)))
        if item["phones"] or item["wechat_ids"]:
            self.count("items/with_contact")
        return item


class _Batches:
    """Runs ``work`` (a function of a list, giving one result per element, and of ``extra()``
    when given) on ``worker`` for things handed in one at a time. Those that come while a batch
    runs wait and go together into the next one, at most ``size``: when the worker keeps up
    each goes alone at once, and when it falls behind, batches grow and each element costs
    less.

    When a batch raises, ``failed(exc, batch)`` may give the exceptions its elements end with
    (the store: the database is gone, so is every element's chance); otherwise the elements are
    run one at a time, so that only the one at fault fails. ``done()`` is called after each
    batch that worked."""

    def __init__(self, worker: PipelineWorker, work: Any, size: int,
                 failed: Any = None, done: Any = None, extra: Any = None) -> None:
        self.worker, self.work, self.size = worker, work, size
        self.failed, self.done, self.extra = failed, done, extra
        self.log_extra: dict[str, Any] = {}  # names the crawl on its log records
        self._waiting: list[tuple[Any, asyncio.Future]] = []
        self._runner: asyncio.Future | None = None

    async def __call__(self, element: Any) -> Any:
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((element, future))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.ensure_future(self._run())
        return await future

    async def _run(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[:self.size]
                del self._waiting[:len(batch)]
                try:
                    await self._run_batch(batch)
                except Exception as exc:  # a bug here must fail the batch, not hang the crawl
                    logger.exception("a batch failed", extra=self.log_extra)
                    for _, future in batch:
                        _settle(future, error=exc)
        finally:
            # Only reached with elements waiting if this task itself was cancelled.
            waiting, self._waiting = self._waiting, []
            for _, future in waiting:
                _settle(future, error=DropItem("not processed: the crawl is stopping"))

    async def _run_batch(self, batch: list[tuple[Any, asyncio.Future]]) -> None:
        elements = [element for element, _ in batch]
        try:
            results = await self.worker.call(self.work, elements,
                                             *(self.extra() if self.extra else ()))
        except Exception as exc:
            errors = self.failed(exc, elements) if self.failed is not None else None
            if errors is None and len(batch) > 1:
                for entry in batch:
                    await self._run_batch([entry])
                return
            for index, (_, future) in enumerate(batch):
                _settle(future, error=errors[index] if errors is not None else exc)
            return
        if len(results) != len(batch):
            raise ValueError(f"{len(results)} results for a batch of {len(batch)}")
        if self.done is not None:
            self.done()
        for (_, future), result in zip(batch, results, strict=True):
            _settle(future, result)


def _settle(future: asyncio.Future, result: Any = None, error: BaseException | None = None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def pipeline_worker(crawler: Crawler) -> PipelineWorker:
    """The one worker, per crawl, on which the classify and store stages run their batches: a
    child process, or a thread with ``TUTORWATCH_PIPELINE_PROCESS`` off
    (:mod:`crawler.pipeline_worker`). Sharing it lets ads pile up for the classifier while the
    store writes, so both batch."""
    worker = getattr(crawler, "tutorwatch_worker", None)
    if worker is None:
        worker = PipelineWorker(process=crawler.settings.getbool("TUTORWATCH_PIPELINE_PROCESS"))
        crawler.tutorwatch_worker = worker
    return worker


class ClassifyPipeline(_Counting):
    """Score each ad with the classifier; the verdict travels with the item to the store.

    In a crawl (``TUTORWATCH_CLASSIFY_IN_BATCHES``, on in the crawl settings) ads are scored by
    the worker the store writes on (:func:`pipeline_worker`), in batches of the ads that came
    while it was busy: one call for many ads costs far less per ad than one call each, and the
    reactor goes on meanwhile. Otherwise (and in tests) each ad is scored at once.

    ``threshold`` (``TUTORWATCH_FLAG_THRESHOLD``), when given, replaces the model's own: an ad
    scoring at or above it is flagged."""

    BATCH_SIZE = 100

    def __init__(self, model_path: str | None = None, stats: Any = None,
                 threshold: float | None = None,
                 worker: PipelineWorker | None = None) -> None:
        if threshold is not None and not 0 <= threshold <= 1:
            raise ValueError(f"TUTORWATCH_FLAG_THRESHOLD must be between 0 and 1; got {threshold}")
        self.stats = stats
        self.crawler: Crawler | None = None  # set by from_crawler: a dead worker stops it
        spec = (model_path or None, threshold)
        self.model = _model(spec)
        self._batches = (_Batches(worker, partial(_score, spec), self.BATCH_SIZE,
                                  failed=self._worker_died)
                         if worker is not None else None)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ClassifyPipeline:
        for_sources_only(crawler)
        settings = crawler.settings
        raw = settings.get("TUTORWATCH_FLAG_THRESHOLD")
        threshold = None if raw is None or str(raw).strip() == "" else float(raw)
        worker = (pipeline_worker(crawler)
                  if settings.getbool("TUTORWATCH_CLASSIFY_IN_BATCHES") else None)
        pipeline = cls(settings.get("TUTORWATCH_MODEL") or None, crawler.stats, threshold, worker)
        pipeline.crawler = crawler
        if pipeline._batches is not None:
            pipeline._batches.log_extra = {"crawler": crawler}
        return pipeline

    async def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        if item.get("takedown"):
            return item
        text = f"{item['title']}\n{item['body_text']}"
        if self._batches is None:
            return self._apply(item, self.model.classify([text])[0].as_dict())
        return await self._classify_in_batch(item, text)

    async def _classify_in_batch(self, item: dict[str, Any], text: str) -> dict[str, Any]:
        return self._apply(item, await self._batches(text))

    def _apply(self, item: dict[str, Any], verdict: dict[str, Any]) -> dict[str, Any]:
        verdict["evidence"] = split_evidence(verdict["evidence"], len(item["title"]))
        item["verdict"] = verdict
        self.count("items/classified")
        if verdict["label"]:
            self.count("items/flagged")
        return item

    def _worker_died(self, exc: Exception, texts: list[str]) -> list[Exception] | None:
        if not isinstance(exc, BrokenProcessPool):
            return None
        worker_died(self.crawler, exc)
        return [DropItem("not scored: the pipeline worker process is gone") for _ in texts]


_models: dict[tuple[str | None, float | None], Any] = {}


def _model(spec: tuple[str | None, float | None]) -> Any:
    """The model for (file, threshold), loaded once per process. A worker process forked after
    the crawl loaded it has it already; it loads one that a later crawl asked for."""
    model = _models.get(spec)
    if model is None:
        from classifier import load_model

        path, threshold = spec
        model = load_model(path)
        if threshold is not None:
            model.threshold = threshold
        model.classify([""])  # load jieba's dictionary now, not on the first ad
        _models[spec] = model
    return model


def _score(spec: tuple[str | None, float | None], texts: list[str]) -> list[dict[str, Any]]:
    """The batch work of :class:`ClassifyPipeline` (a plain function, to run in a worker
    process)."""
    return [verdict.as_dict() for verdict in _model(spec).classify(texts)]


def worker_died(crawler: Crawler | None, exc: Exception) -> None:
    """Stop the crawl, once, when the pipeline worker process is gone (it died, or sent back
    what could not be read, and the pool stopped it): nothing can be scored or stored any more,
    and a rerun fetches the pages whose ads were not stored."""
    if crawler is None or getattr(crawler, "tutorwatch_worker_died", False):
        return
    crawler.tutorwatch_worker_died = True
    logger.error("the pipeline worker process is gone (%s); stopping the crawl (a rerun "
                 "fetches what was not stored)", str(exc) or type(exc).__name__,
                 extra={"crawler": crawler})
    engine = crawler.engine
    if engine is not None and engine.spider is not None:
        deferred_from_coro(engine.close_spider_async(reason="store_unavailable"))


def split_evidence(evidence: list[dict[str, Any]], title_length: int) -> list[dict[str, Any]]:
    """Evidence spans of "title\nbody" as spans of the title or of the body, each marked with
    its ``field``, so that the review UI highlights the right characters."""
    out = []
    for span in evidence:
        start, end = span["start"], span["end"]
        if end <= title_length:
            out.append({**span, "field": "title"})
        elif start > title_length:
            shift = title_length + 1
            out.append({**span, "field": "text", "start": start - shift, "end": end - shift})
    return out


class StorePipeline(_Counting):
    """Store each ad through :meth:`review_ui.store.Store.ingest` and record the crawl run.

    The Django ORM is synchronous, so the reactor never calls it: ads, takedowns and the run's
    heartbeats are written by the crawl's pipeline worker (:func:`pipeline_worker`, a child
    process by default), in order; the run's start and end are recorded on a thread of the
    crawl process (the worker itself when that is a thread). Ads that
    arrive while the worker is busy are stored together in the next transaction (at most
    ``BATCH_SIZE``): an idle crawl stores each ad at once, a busy one spends far less per ad.
    An ad's ``process_item`` returns only once its transaction is committed, so a crawl killed
    mid-batch has stored none of that batch, and the rerun fetches those pages again.
    """

    HEARTBEAT_SECONDS = 30.0
    BATCH_SIZE = 100

    def __init__(self, crawler: Crawler) -> None:
        self.store = Store()
        self.crawler = crawler
        self.stats = crawler.stats
        settings = crawler.settings
        self.keep_raw = settings.getbool("TUTORWATCH_KEEP_RAW", True)
        self.kind = "recheck" if settings.getbool("TUTORWATCH_RECHECK") else "crawl"
        self.trigger = settings.get("TUTORWATCH_TRIGGER") or "manual"
        self.run_id: int | None = settings.getint("TUTORWATCH_RUN_ID") or None
        self._own_run = self.run_id is None
        self.shared: Any = None
        self.store_lost = False
        self._heartbeat: task.LoopingCall | None = None
        self._worker = pipeline_worker(crawler)
        # Fork the worker process now: the store is set up, the classify stage (built first) has
        # loaded the model, and Scrapy builds every crawl's pipelines before its reactor starts.
        self._worker.start(self.store.before_fork, self.store.in_forked_child)
        self._runs_thread = (ThreadPoolExecutor(max_workers=1, thread_name_prefix="tutorwatch-runs")
                             if self._worker.process else None)
        self._batches = _Batches(self._worker, self.store.ingest, self.BATCH_SIZE,
                                 failed=self._store_failed,
                                 done=lambda: self.count("store/transactions"),
                                 extra=lambda: (self.run_id,))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        for_sources_only(crawler)
        pipeline = cls(crawler)
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    async def _db(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        """Run ``func`` on the thread that records the crawl run's start and end."""
        call = partial(func, *args, **kwargs)
        if self._runs_thread is None:
            return await self._worker.call(call)
        return await asyncio.get_running_loop().run_in_executor(self._runs_thread, call)

    async def open_spider(self) -> None:
        spider = self.crawler.spider
        await self._db(self.store.check)
        if self._own_run:
            source = spider.source
            self.shared = getattr(self.crawler, "shared_crawl", None)
            if self.shared is not None:
                def create() -> int:
                    return self.store.start_run(source.raw, source.path, purpose=self.kind,
                                                trigger=self.trigger, exclusive=False)

                self.run_id, _ = await self._db(
                    self.shared.claim_run, create, self.store.run_is_running, self.store.join_run
                )
            else:
                self.run_id = await self._db(
                    self.store.start_run, source.raw, source.path, purpose=self.kind,
                    trigger=self.trigger,
                )
            self._heartbeat = task.LoopingCall(self._beat)
            self._heartbeat.start(self.HEARTBEAT_SECONDS, now=False)
        if self.stats is not None and self.run_id is not None:
            self.stats.set_value("tutorwatch/run", str(self.run_id))

    def _beat(self) -> Any:
        async def beat() -> None:
            try:
                # On the worker, behind the ads handed in before it: a stuck worker stops the
                # heartbeats, and the run goes stale, as a stuck crawl should.
                await self._worker.call(self.store.beat, self.run_id)
            except Exception as exc:  # a missed heartbeat must not stop the crawl
                logger.warning("could not record a sign of life for run %s: %s", self.run_id, exc,
                               extra={"crawler": self.crawler})

        return deferred_from_coro(beat())

    def _lost(self, exc: Exception, items: int = 1) -> None:
        """Count ``items`` not stored because the database failed, and stop the crawl the
        first time."""
        self.count("store/errors", items)
        if not self.store_lost:
            self.store_lost = True
            logger.error("the store failed, stopping the crawl (a rerun fetches what was "
                         "not stored): %s", exc, extra={"crawler": self.crawler})
            engine = self.crawler.engine
            if engine is not None and engine.spider is not None:
                deferred_from_coro(engine.close_spider_async(reason="store_unavailable"))

    def _worker_gone(self, exc: Exception, items: int = 1) -> None:
        self.count("store/errors", items)
        worker_died(self.crawler, exc)

    async def _store(self, func: Any, *args: Any) -> Any:
        """``func(*args)`` on the worker, in order with the ads' batches (``func``: a plain
        function or a store's method, for a worker process)."""
        try:
            return await self._worker.call(func, *args)
        except StoreUnavailable as exc:
            self._lost(exc)
            raise DropItem(f"not stored ({exc.cause}): {item_url(args)}") from None
        except BrokenProcessPool as exc:
            self._worker_gone(exc)
            raise DropItem(f"not stored (the pipeline worker is gone): {item_url(args)}") from None

    async def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        if item.get("takedown"):
            recorded = await self._store(
                self.store.record_takedown, item["url"], item["takedown"], self.run_id
            )
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

    def _store_failed(self, exc: Exception, items: list[dict[str, Any]]) -> list[Exception] | None:
        """A database error fails the whole batch and stops the crawl, and so does the loss of
        the worker process; anything else is an ad the store cannot take, found by storing the
        batch one ad at a time."""
        if isinstance(exc, BrokenProcessPool):
            self._worker_gone(exc, len(items))
            return [DropItem(f"not stored (the pipeline worker is gone): {item.get('url')}")
                    for item in items]
        if not isinstance(exc, StoreUnavailable):
            return None
        self._lost(exc, len(items))
        return [DropItem(f"not stored ({exc.cause}): {item.get('url')}")
                for item in items]

    async def spider_closed(self, spider: Any, reason: str) -> None:
        try:
            if self._heartbeat is not None and self._heartbeat.running:
                self._heartbeat.stop()
            if self._own_run and self.run_id is not None:
                stats = self.stats.get_stats() if self.stats is not None else {}
                worker = self.shared.worker if self.shared is not None else None
                last = self.shared.was_last if self.shared is not None else True
                try:
                    if self.store_lost:
                        await self._db(self.store.close)  # a new connection for the run's end
                    await self._db(self.store.finish_run, self.run_id, stats, reason,
                                   worker_id=worker, last=last)
                except Exception as exc:
                    logger.error("could not record the end of crawl run %s (%s); it will be "
                                 "marked interrupted when found dead", self.run_id, exc,
                                 extra={"crawler": self.crawler})
        finally:
            self._worker.shutdown()
            if self._runs_thread is not None:
                self._runs_thread.shutdown(wait=True)


def item_url(args: tuple[Any, ...]) -> str:
    first = args[0] if args else None
    return str(first.get("url") if isinstance(first, dict) else first)
