"""The contacts stage: phones and WeChat ids from the page's contact field and the ad's text
(``crawler.entities``), each once, in order of appearance. Counts
``tutorwatch/items/with_contact``. Takedown items pass."""

from __future__ import annotations

from typing import Any

from scrapy.crawler import Crawler

from crawler.entities import extract_contact_field, extract_phones, extract_wechat_ids
from crawler.pipelines.base import Stage, for_sources_only


class ContactsPipeline(Stage):
    """Phones and WeChat ids from the contact field and the body."""

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
