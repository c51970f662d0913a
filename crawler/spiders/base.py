"""What the two config-driven spiders share: start requests, list paging, item building."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, ClassVar

import scrapy
from scrapy.http import Response

from crawler.config import SourceConfig


class SourceSpider(scrapy.Spider):
    """A spider whose behaviour comes from ``source`` (a checked :class:`SourceConfig`)."""

    source: ClassVar[SourceConfig]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.allowed_domains = list(self.source.allowed_domains)

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.source.start_urls:
            yield scrapy.Request(url, callback=self.parse_list, cb_kwargs={"page": 1})

    def parse(self, response: Response, **kwargs: Any) -> Any:
        return self.parse_list(response, page=1)

    def parse_list(self, response: Response, page: int) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def may_follow_page(self, page: int) -> bool:
        """Whether list page ``page + 1`` may be requested under ``max_pages``."""
        limit = self.source.max_pages
        return limit is None or page < limit

    def count(self, key: str) -> None:
        if self.crawler is not None and self.crawler.stats is not None:
            self.crawler.stats.inc_value(f"tutorwatch/{key}")

    def build_item(self, response: Response, **fields: Any) -> dict[str, Any]:
        """The item every pipeline expects: the fields found plus the page kept as evidence."""
        return {
            "url": response.url,
            "source": self.source.name,
            "fetched_at": datetime.now(UTC).isoformat(),
            "raw_body": response.body,
            "raw_content_type": (response.headers.get("Content-Type") or b"").decode("latin-1"),
            "raw_encoding": getattr(response, "encoding", None),
            "http_status": response.status,
            **fields,
        }
