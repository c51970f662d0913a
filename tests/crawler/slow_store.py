"""A last item pipeline that takes ``SLOW_STORE_SECONDS`` per item, one item at a time, as a
pipeline worker that has fallen behind the crawl would; it keeps the most pages the crawl held
in its scraper at once (responses fetched whose items were not yet through the pipelines) and
writes that number to ``SLOW_STORE_REPORT`` when the crawl closes.

For test_backlog.py: ``tutorwatch crawl ... -s ITEM_PIPELINES=...`` with this one added after
tutorwatch's own.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from scrapy.crawler import Crawler


class SlowStore:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.seconds = crawler.settings.getfloat("SLOW_STORE_SECONDS")
        self.report = Path(crawler.settings["SLOW_STORE_REPORT"])
        self.most_held = 0
        self._one_at_a_time = asyncio.Lock()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SlowStore:
        return cls(crawler)

    async def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        held = len(self.crawler.engine.scraper.slot.active)
        self.most_held = max(self.most_held, held)
        async with self._one_at_a_time:
            await asyncio.sleep(self.seconds)
        return item

    def close_spider(self) -> None:
        self.report.write_text(str(self.most_held), encoding="ascii")
