"""Item pipelines: page → clean text → contacts → classify → store.

Each stage counts what it did as crawl stats (``tutorwatch/items/...``). The classify and store
stages never switch themselves off: a missing model or an unreachable database stops the crawl at
start with an error, rather than quietly crawling into nothing.

Settings: ``TUTORWATCH_MODEL`` (model file), ``TUTORWATCH_KEEP_RAW`` (keep raw pages).
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
        found = extract_contact_field(item.get("contact_raw") or "")
        text = f"{item['title']}\n{item['body_text']}"
        item["phones"] = list(dict.fromkeys(found["phones"] + extract_phones(text)))
        item["wechat_ids"] = list(dict.fromkeys(found["wechat_ids"] + extract_wechat_ids(text)))
        if item["phones"] or item["wechat_ids"]:
            self.count("items/with_contact")
        return item


class ClassifyPipeline(_Counting):
    """Score each ad with the classifier; the verdict travels with the item to the store."""

    def __init__(self, model_path: str | None = None, stats: Any = None) -> None:
        from classifier import load_model

        self.stats = stats
        self.model = load_model(model_path or None)
        self.model.classify([""])  # load jieba's dictionary now, not on the first ad

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ClassifyPipeline:
        return cls(crawler.settings.get("TUTORWATCH_MODEL") or None, crawler.stats)

    def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
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
    """Store each ad through ``review_ui.queue.submit`` and record the crawl run.

    The Django ORM is synchronous, so every database call runs on one dedicated thread: the
    reactor never blocks on the database, and writes keep their order.
    """

    def __init__(self, crawler: Crawler) -> None:
        _setup_django()
        from review_ui import queue

        self.queue = queue
        self.crawler = crawler
        self.stats = crawler.stats
        self.keep_raw = crawler.settings.getbool("TUTORWATCH_KEEP_RAW", True)
        self.run_id: int | None = crawler.settings.getint("TUTORWATCH_RUN_ID") or None
        self._own_run = self.run_id is None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tutorwatch-store")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        pipeline = cls(crawler)
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    async def _db(self, func: Any, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, func, *args)

    async def open_spider(self) -> None:
        spider = self.crawler.spider
        await self._db(self.queue.check_store)
        if self._own_run:
            self.run_id = await self._db(self.queue.start_run, spider.source.raw, spider.source.path)

    async def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        if not self.keep_raw:
            item["raw_body"] = b""
        result = await self._db(self.queue.submit, item, self.run_id)
        self.count(f"items/stored/{result.outcome}")
        if result.queued:
            self.count("items/queued")
        if result.copy_of_queued:
            self.count("items/copies_of_queued")  # linked to its group's review item instead
        return item

    async def spider_closed(self, spider: Any, reason: str) -> None:
        try:
            if self._own_run and self.run_id is not None:
                stats = self.stats.get_stats() if self.stats is not None else {}
                await self._db(self.queue.finish_run, self.run_id, stats, reason)
        finally:
            self._executor.shutdown(wait=True)
