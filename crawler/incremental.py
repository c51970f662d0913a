"""Incremental crawling and re-checks, as one spider middleware.

- In a normal crawl, a detail page whose ad is already stored is not requested again until it is
  due: checked more than ``TUTORWATCH_REFETCH_DAYS`` ago, recorded as taken down (so that its
  return is noticed), or extracted with another version of the source's detail selectors
  (``crawler.config_hash``: a fixed selector reaches the stored ads at the next crawl). Each
  skip counts as ``tutorwatch/incremental/skipped``.
- In a re-check crawl (``TUTORWATCH_RECHECK``), the start requests are replaced by the stored ads
  due for a re-check: flagged, confirmed and escalated ones not checked for
  ``TUTORWATCH_RECHECK_HOURS`` (:meth:`review_ui.store.Store.due_rechecks`).
- Whenever an ad already stored is fetched, a 404 or 410, or a page that no longer shows a post
  (nothing extracted, or only the page's whole text, which is the site's frame around a post
  that is gone), becomes a takedown item ``{"url", "source", "takedown": "http_404" |
  "http_410" | "gone"}`` that the store pipeline records with its time; the ad's content stays
  as evidence. A post that changed goes through the pipelines like any other and the store keeps
  the earlier version.

Only crawls of a tutorwatch source use it (:func:`crawler.spiders.base.crawls_a_source`); for
any other spider it turns itself off, and its requests and responses pass untouched.

Settings: ``TUTORWATCH_INCREMENTAL`` (off: fetch every detail page), ``TUTORWATCH_REFETCH_DAYS``,
``TUTORWATCH_RECHECK``, ``TUTORWATCH_RECHECK_HOURS``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.spidermiddlewares.base import BaseSpiderMiddleware

from crawler.config_hash import extraction_hash
from crawler.spiders.base import crawls_a_source
from review_ui.store import Store

logger = logging.getLogger(__name__)

KNOWN = "tutorwatch_known"  # request meta: the stored ad's URL this request re-fetches
TAKEDOWN_STATUSES = {404: "http_404", 410: "http_410"}


def is_detail_request(request: Request) -> bool:
    return getattr(request.callback, "__name__", None) == "parse_detail"


def _has_content(item: Any) -> bool:
    """Whether an item shows a post. Text that only the page-text fallback found
    (``crawler.spiders.html``) does not: on the page of an ad already stored, that is the
    site's frame around a post that is gone."""
    return isinstance(item, dict) and item.get("extraction") != "page_text" and bool(
        (item.get("title") or "").strip() or (item.get("body_text") or "").strip()
    )


def takedown_item(url: str, source: str, how: str, status: int) -> dict[str, Any]:
    return {"url": url, "source": source, "takedown": how, "http_status": status,
            "fetched_at": datetime.now(UTC).isoformat()}


class IncrementalMiddleware(BaseSpiderMiddleware):
    def __init__(self, crawler: Crawler, refetch_after: timedelta, recheck: bool,
                 recheck_after: timedelta, enabled: bool = True) -> None:
        super().__init__(crawler)
        self.refetch_after = refetch_after
        self.recheck = recheck
        self.recheck_after = recheck_after
        self.enabled = enabled
        self.stored: dict[str, bool] = {}  # url → due
        self.due_rechecks: list[str] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> IncrementalMiddleware:
        if not crawls_a_source(crawler.spidercls):
            raise NotConfigured
        settings = crawler.settings
        middleware = cls(
            crawler,
            refetch_after=timedelta(days=settings.getfloat("TUTORWATCH_REFETCH_DAYS", 30)),
            recheck=settings.getbool("TUTORWATCH_RECHECK"),
            recheck_after=timedelta(hours=settings.getfloat("TUTORWATCH_RECHECK_HOURS", 24)),
            enabled=settings.getbool("TUTORWATCH_INCREMENTAL", True),
        )
        crawler.signals.connect(middleware.spider_opened, signal=signals.spider_opened)
        return middleware

    async def spider_opened(self, spider: Any) -> None:
        source = getattr(spider, "source", None)
        if source is None or not (self.enabled or self.recheck):
            return
        # The ORM is synchronous: ask the store on a thread, not on the reactor.
        await asyncio.to_thread(self._load, source)

    def _load(self, source: Any) -> None:
        store = Store()
        try:
            self._plan(store, source)
        finally:
            store.close()  # this thread's connection

    def _plan(self, store: Store, source: Any) -> None:
        if self.recheck:
            self.due_rechecks = store.due_rechecks(source.name, self.recheck_after)
            logger.info("re-checking %d stored ads of %s", len(self.due_rechecks), source.name,
                        extra={"crawler": self.crawler})
        elif self.enabled:
            self.stored = store.stored_urls(source.name, self.refetch_after,
                                            config_hash=extraction_hash(source))
            due = sum(self.stored.values())
            logger.info("%d ads of %s are stored, %d of them due to be fetched again",
                        len(self.stored), source.name, due, extra={"crawler": self.crawler})

    def _count(self, key: str) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(f"tutorwatch/{key}")

    # --- start: a re-check crawl fetches the due ads instead of the list pages ---------------
    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        if not self.recheck:
            async for request in start:
                yield request
            return
        spider = self.crawler.spider
        for url in self.due_rechecks:
            self._count("recheck/requested")
            yield Request(
                url, callback=spider.parse_detail, errback=spider.on_error, dont_filter=True,
                meta={KNOWN: url, "handle_httpstatus_list": list(TAKEDOWN_STATUSES)},
            )

    # --- requests: skip stored detail pages that are not due --------------------------------
    def get_processed_request(self, request: Request, response: Response | None) -> Request | None:
        if response is None or self.recheck or not self.enabled or not is_detail_request(request):
            return request
        due = self.stored.get(request.url)
        if due is None:
            return request
        if not due:
            self._count("incremental/skipped")
            return None
        self._count("incremental/refetched")
        request.meta[KNOWN] = request.url
        request.meta["handle_httpstatus_list"] = list(TAKEDOWN_STATUSES)
        return request

    # --- responses of stored ads: a takedown replaces what the spider made of the page ------
    def _takedown(self, response: Response, items: list[Any]) -> dict[str, Any] | None:
        url = response.meta.get(KNOWN)
        source = self.crawler.spider.source.name
        if response.status in TAKEDOWN_STATUSES:
            return takedown_item(url, source, TAKEDOWN_STATUSES[response.status], response.status)
        if not any(_has_content(item) for item in items):
            self._count("takedowns/gone_empty")
            return takedown_item(url, source, "gone", response.status)
        return None

    def process_spider_output(self, response: Response, result: Iterable[Any]) -> Iterable[Any]:
        if KNOWN not in response.meta:
            yield from super().process_spider_output(response, result)
            return
        outputs = list(result)
        items = [o for o in outputs if not isinstance(o, Request)]
        takedown = self._takedown(response, items)
        if takedown is not None:
            yield takedown
            return
        for output in outputs:
            if (output := self._get_processed(output, response)) is not None:
                yield output

    async def process_spider_output_async(
        self, response: Response, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        if KNOWN not in response.meta:
            async for output in super().process_spider_output_async(response, result):
                yield output
            return
        outputs = [o async for o in result]
        for output in self.process_spider_output(response, outputs):
            yield output
