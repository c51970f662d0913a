"""Item pipelines: page → clean text → contacts → classify → store.

Each stage counts what it did as crawl stats (``tutorwatch/items/...``). The classify and store
stages never switch themselves off: a missing model or an unreachable database stops the crawl at
start with an error, rather than quietly crawling into nothing; a database lost mid-crawl stops it
with reason ``store_unavailable``.

Takedown items (``{"takedown": ...}``, from ``crawler.incremental``) pass the text stages
untouched and are recorded by the store.

The store pipeline records the crawl run (``review_ui.runs``): started, kept alive, finished with
its health checks; in distributed mode the workers of a shared crawl record one run together.

Settings: ``TUTORWATCH_MODEL`` (model file), ``TUTORWATCH_FLAG_THRESHOLD`` (flag at or above
this score instead of the model's own threshold), ``TUTORWATCH_KEEP_RAW`` (keep raw pages),
``TUTORWATCH_RECHECK`` and ``TUTORWATCH_TRIGGER`` (what the run records).
"""

from __future__ import annotations

import asyncio
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.utils.defer import deferred_from_coro
from twisted.internet import task

from crawler.entities import extract_contact_field, extract_phones, extract_wechat_ids
from crawler.text import clean_text, parse_posted_at

logger = logging.getLogger(__name__)


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
        return cls(crawler.stats)

    def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
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
        return cls(crawler.stats)

    def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        if item.get("takedown"):
            return item
        found = extract_contact_field(item.get("contact_raw") or "")
        text = f"{item['title']}\n{item['body_text']}"
        item["phones"] = list(dict.fromkeys(found["phones"] + extract_phones(text)))
        item["wechat_ids"] = list(dict.fromkeys(found["wechat_ids"] + extract_wechat_ids(text)))
        if item["phones"] or item["wechat_ids"]:
            self.count("items/with_contact")
        return item


class ClassifyPipeline(_Counting):
    """Score each ad with the classifier; the verdict travels with the item to the store.

    ``threshold`` (``TUTORWATCH_FLAG_THRESHOLD``), when given, replaces the model's own: an ad
    scoring at or above it is flagged."""

    def __init__(self, model_path: str | None = None, stats: Any = None,
                 threshold: float | None = None) -> None:
        from classifier import load_model

        if threshold is not None and not 0 <= threshold <= 1:
            raise ValueError(f"TUTORWATCH_FLAG_THRESHOLD must be between 0 and 1; got {threshold}")
        self.stats = stats
        self.model = load_model(model_path or None)
        if threshold is not None:
            self.model.threshold = threshold
        self.model.classify([""])  # load jieba's dictionary now, not on the first ad

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ClassifyPipeline:
        settings = crawler.settings
        raw = settings.get("TUTORWATCH_FLAG_THRESHOLD")
        threshold = None if raw is None or str(raw).strip() == "" else float(raw)
        return cls(settings.get("TUTORWATCH_MODEL") or None, crawler.stats, threshold)

    def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        if item.get("takedown"):
            return item
        text = f"{item['title']}\n{item['body_text']}"
        verdict = self.model.classify([text])[0]
        item["verdict"] = verdict.as_dict()
        item["verdict"]["evidence"] = split_evidence(verdict.evidence, len(item["title"]))
        self.count("items/classified")
        if verdict.label:
            self.count("items/flagged")
        return item


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


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "review_ui.settings")
    import django

    django.setup()


class StorePipeline(_Counting):
    """Store each ad through ``review_ui.queue.submit_many`` and record the crawl run.

    The Django ORM is synchronous, so every database call runs on one dedicated thread: the
    reactor never blocks on the database, and writes keep their order. Ads that arrive while
    that thread is busy are stored together in the next transaction (at most ``BATCH_SIZE``):
    an idle crawl stores each ad at once, a busy one spends far less per ad. An ad's
    ``process_item`` returns only once its transaction is committed, so a crawl killed
    mid-batch has stored none of that batch, and the rerun fetches those pages again.
    """

    HEARTBEAT_SECONDS = 30.0
    BATCH_SIZE = 100

    def __init__(self, crawler: Crawler) -> None:
        _setup_django()
        from review_ui import queue, runs

        self.queue = queue
        self.runs = runs
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
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tutorwatch-store")
        self._waiting: list[tuple[dict[str, Any], asyncio.Future]] = []
        self._writer: asyncio.Future | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        pipeline = cls(crawler)
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    async def _db(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: func(*args, **kwargs))

    async def open_spider(self) -> None:
        spider = self.crawler.spider
        await self._db(self.queue.check_store)
        if self._own_run:
            source = spider.source
            self.shared = getattr(self.crawler, "shared_crawl", None)
            if self.shared is not None:
                def create() -> int:
                    return self.runs.start_run(source.raw, source.path, kind=self.kind,
                                               trigger=self.trigger, exclusive=False)

                self.run_id, _ = await self._db(
                    self.shared.claim_run, create, self.runs.run_is_running, self.runs.join_run
                )
            else:
                self.run_id = await self._db(
                    self.runs.start_run, source.raw, source.path, kind=self.kind,
                    trigger=self.trigger,
                )
            self._heartbeat = task.LoopingCall(self._beat)
            self._heartbeat.start(self.HEARTBEAT_SECONDS, now=False)
        if self.stats is not None and self.run_id is not None:
            self.stats.set_value("tutorwatch/run", str(self.run_id))

    def _beat(self) -> Any:
        async def beat() -> None:
            try:
                await self._db(self.runs.beat, self.run_id)
            except Exception as exc:  # a missed heartbeat must not stop the crawl
                logger.warning("could not record a sign of life for run %s: %s", self.run_id, exc)

        return deferred_from_coro(beat())

    def _lost(self, exc: Exception, items: int = 1) -> None:
        """Count ``items`` not stored because the database failed, and stop the crawl the
        first time."""
        self.count("store/errors", items)
        if not self.store_lost:
            self.store_lost = True
            logger.error("the store failed, stopping the crawl (a rerun fetches what was "
                         "not stored): %s", exc)
            engine = self.crawler.engine
            if engine is not None and engine.spider is not None:
                deferred_from_coro(engine.close_spider_async(reason="store_unavailable"))

    async def _store(self, func: Any, *args: Any) -> Any:
        from django.db import DatabaseError

        try:
            return await self._db(func, *args)
        except DatabaseError as exc:
            self._lost(exc)
            raise DropItem(f"not stored ({type(exc).__name__}): {item_url(args)}") from None

    async def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        if item.get("takedown"):
            recorded = await self._store(
                self.queue.record_takedown, item["url"], item["takedown"], self.run_id
            )
            self.count("items/removed" if recorded else "items/still_removed")
            return item
        if not self.keep_raw:
            item["raw_body"] = b""
        result = await self._submit(item)
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

    async def _submit(self, item: dict[str, Any]) -> Any:
        """Store ``item`` in the next batch; its result once that batch is committed."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write())
        return await future

    async def _write(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[:self.BATCH_SIZE]
                del self._waiting[:len(batch)]
                await self._write_batch(batch)
        finally:
            # Only reached with ads waiting if this task itself was cancelled.
            waiting, self._waiting = self._waiting, []
            for item, future in waiting:
                if not future.done():
                    future.set_exception(DropItem(f"not stored (crawl stopping): {item['url']}"))

    async def _write_batch(self, batch: list[tuple[dict[str, Any], asyncio.Future]]) -> None:
        from django.db import DatabaseError

        def settle(future: asyncio.Future, result: Any = None,
                   error: BaseException | None = None) -> None:
            if future.done():
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)

        try:
            results = await self._db(self.queue.submit_many, [item for item, _ in batch],
                                     self.run_id)
        except DatabaseError as exc:
            self._lost(exc, len(batch))
            for item, future in batch:
                settle(future, error=DropItem(
                    f"not stored ({type(exc).__name__}): {item.get('url')}"))
            return
        except Exception as exc:
            if len(batch) == 1:
                settle(batch[0][1], error=exc)
                return
            for entry in batch:  # store them one by one: only the ad at fault fails
                await self._write_batch([entry])
            return
        self.count("store/transactions")
        for (_, future), result in zip(batch, results):
            settle(future, result)

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
                        await self._db(_reconnect)
                    await self._db(self.runs.finish_run, self.run_id, stats, reason,
                                   worker_id=worker, last=last)
                except Exception as exc:
                    logger.error("could not record the end of crawl run %s (%s); it will be "
                                 "marked interrupted when found dead", self.run_id, exc)
        finally:
            self._executor.shutdown(wait=True)


def item_url(args: tuple[Any, ...]) -> str:
    first = args[0] if args else None
    return str(first.get("url") if isinstance(first, dict) else first)


def _reconnect() -> None:
    from django.db import connection

    connection.close()
