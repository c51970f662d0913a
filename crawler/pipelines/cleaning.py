"""The first stage: the ad's title and text as clean text, and when it was posted.

Cleans the title (one line, at most 500 characters) and the body (``crawler.text``), takes the
body's first line as the title when the page has none, and parses ``posted_at``. An item with
neither title nor body is dropped (``tutorwatch/items/dropped/empty``). Takedown items pass.
"""

from __future__ import annotations

from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from crawler.pipelines.base import Stage, for_sources_only
from crawler.text import clean_text, parse_posted_at


class CleanTextPipeline(Stage):
    """Clean the title and body; drop items with nothing to read."""

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
