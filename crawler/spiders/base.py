"""What the two config-driven spiders share: start requests, list paging, failure accounting,
item building.

Every request carries ``on_error`` as its errback, so each URL that yields nothing is counted
once under a named reason (``crawler.failures``). List paging is bounded three ways: the source's
``max_pages`` (default ``TUTORWATCH_MAX_PAGES``), ``TUTORWATCH_STALE_PAGES`` list pages in a row
that bring no new detail link (an endless calendar), and ``TUTORWATCH_MAX_LINKS_PER_PAGE``.
A source with ``render: true`` has its pages rendered by Chromium (``crawler.spiders.render``).

A page that is a site's challenge (captcha, slider, login wall, rate limit page:
``crawler.middlewares.blocks``) fails as ``blocked`` and ends the crawl at once with the reason
``blocked`` (``TUTORWATCH_STOP_ON_BLOCK``, default on): asking a site that is blocking us for
more pages only makes it block harder, and nothing of ours tries to get past a challenge.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import scrapy
from scrapy.exceptions import CloseSpider
from scrapy.http import Response
from twisted.python.failure import Failure
from w3lib.url import canonicalize_url

from crawler.config import SourceConfig
from crawler.config_hash import extraction_hash
from crawler.failures import failure_reason

# How many URLs per reason the crawl run keeps (the counts are always complete).
FAILED_URLS_KEPT = 50
# The config key of each ``detail`` selector, by the item field it fills.
DETAIL_KEYS = {"title": "title", "body_text": "body", "posted_at_raw": "posted_at",
               "contact_raw": "contact"}


def crawls_a_source(spidercls: Any) -> bool:
    """Whether a crawl of ``spidercls`` is a crawl of a tutorwatch source: a spider class made
    for a source config (:func:`crawler.spiders.spider_for`) that starts from its own
    :meth:`SourceSpider.start`. Only such a crawl goes through tutorwatch's pipelines,
    incremental middleware and crash-safe ``JOBDIR`` (they turn themselves off for any other
    crawl, so its items and responses pass untouched, and no model, store or crawl run is
    touched): not the spider of ``scrapy runspider FILE.py``, not Scrapy's default spider of
    ``scrapy shell URL`` or ``scrapy fetch URL``, and not a source spider whose ``start`` a
    Scrapy command replaced to fetch the URL it was given (``scrapy fetch|view|parse --spider
    NAME URL``): a tool fetching one page is not a crawl of the source. A subclass of ours
    that replaces ``start`` itself says so with ``own_start = True`` (``tutorwatch try``)."""
    return (isinstance(spidercls, type) and issubclass(spidercls, SourceSpider)
            and isinstance(getattr(spidercls, "source", None), SourceConfig)
            and ("start" not in vars(spidercls) or vars(spidercls).get("own_start", False)))


class SourceSpider(scrapy.Spider):
    """A spider whose behaviour comes from ``source`` (a checked :class:`SourceConfig`)."""

    source: ClassVar[SourceConfig]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.allowed_domains = list(self.source.allowed_domains)
        self.failed_urls: dict[str, list[str]] = {}
        self._seen_links: set[str] = set()
        self.config_hash = extraction_hash(self.source)

    def _setting(self, name: str, default: int) -> int:
        settings = getattr(self.crawler, "settings", None) if hasattr(self, "crawler") else None
        return settings.getint(name, default) if settings is not None else default

    def request_meta(self) -> dict[str, Any]:
        """Meta every request of this source carries (rendering, for ``render: true``)."""
        if not self.source.render:
            return {}
        return {"playwright": True,
                "playwright_page_goto_kwargs": {"wait_until": "networkidle"}}

    def request(self, url: str, callback: Any, **cb_kwargs: Any) -> scrapy.Request:
        return scrapy.Request(url, callback=callback, errback=self.on_error,
                              cb_kwargs=cb_kwargs, meta=self.request_meta())

    def follow(self, response: Response, url: str, callback: Any,
               **cb_kwargs: Any) -> scrapy.Request | None:
        """A request for a link on ``response``, or None (counted) when it leaves the source's
        ``allowed_domains`` (Scrapy would drop it at scheduling time without a word)."""
        request = response.follow(url, callback=callback, errback=self.on_error,
                                  cb_kwargs=cb_kwargs, meta=self.request_meta())
        host = (urlsplit(request.url).hostname or "").lower()
        if not any(host == d or host.endswith("." + d) for d in self.allowed_domains):
            self.record_failure(request.url, "offsite", tally="skipped")
            return None
        return request

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.source.start_urls:
            yield self.request(url, self.parse_list, page=1)

    def parse(self, response: Response, **kwargs: Any) -> Any:
        return self.parse_list(response, page=1)

    def parse_list(self, response: Response, page: int, stale: int = 0) -> Any:  # pragma: no cover
        raise NotImplementedError

    def may_follow_page(self, page: int, stale: int = 0) -> bool:
        """Whether list page ``page + 1`` may be requested: under ``max_pages`` (default
        ``TUTORWATCH_MAX_PAGES``) and while list pages still bring new detail links."""
        limit = self.source.max_pages or self._setting("TUTORWATCH_MAX_PAGES", 100)
        if page >= limit:
            self.count("paging/stopped/max_pages")
            return False
        if stale >= self._setting("TUTORWATCH_STALE_PAGES", 3):
            self.count("paging/stopped/no_new_links")
            return False
        return True

    def new_links(self, response: Response, links: list[str]) -> list[str]:
        """Links not seen before in this crawl, at most ``TUTORWATCH_MAX_LINKS_PER_PAGE``."""
        cap = self._setting("TUTORWATCH_MAX_LINKS_PER_PAGE", 500)
        if len(links) > cap:
            self.logger.warning("list page %s has %d links; following the first %d",
                                response.url, len(links), cap)
            self.count("paging/links_capped")
            links = links[:cap]
        fresh = []
        for link in links:
            key = canonicalize_url(response.urljoin(link))
            if key not in self._seen_links:
                self._seen_links.add(key)
                fresh.append(link)
        return fresh

    def count(self, key: str) -> None:
        if self.crawler is not None and self.crawler.stats is not None:
            self.crawler.stats.inc_value(f"tutorwatch/{key}")

    def count_selectors(self, part: str, found: dict[str, Any]) -> None:
        """Count, for each selector of the config's ``part`` (``list`` or ``detail``) tried on
        one page, the page (``tutorwatch/selectors/<part>.<key>/pages``) and whether it matched
        (``.../matched``): a run then says "detail.posted_at matched 0 of 5 pages"."""
        stats = self.crawler.stats if self.crawler is not None else None
        if stats is None:
            return
        for key, value in found.items():
            stats.inc_value(f"tutorwatch/selectors/{part}.{key}/pages")
            stats.inc_value(f"tutorwatch/selectors/{part}.{key}/matched", 1 if value else 0)

    def record_failure(self, url: str, reason: str, tally: str = "failed") -> None:
        """Count ``url`` once under ``tutorwatch/<tally>/<reason>`` (``failed`` or ``skipped``)
        and keep it for the run."""
        self.count(f"{tally}/{reason}")
        if tally == "failed":
            self.logger.warning("no ad from %s: %s", url, reason)
            kept = self.failed_urls.setdefault(reason, [])
            if len(kept) < FAILED_URLS_KEPT:
                kept.append(url)
            if self.crawler is not None and self.crawler.stats is not None:
                self.crawler.stats.set_value("tutorwatch/failed_urls", self.failed_urls)

    def on_error(self, failure: Failure) -> None:
        request = getattr(failure, "request", None)
        tally, reason = failure_reason(failure.value)
        # A failed redirect chain is reported under the URL the crawl asked for.
        url = "?"
        if request is not None:
            url = (request.meta.get("redirect_urls") or [request.url])[0]
        self.record_failure(url, reason, tally)
        if reason == "blocked" and self._stops_on_block():
            self.logger.error("the site is blocking us at %s (%s): the crawl stops", url,
                              getattr(failure.value, "kind", "challenge"))
            raise CloseSpider("blocked")

    def _stops_on_block(self) -> bool:
        settings = getattr(self.crawler, "settings", None) if hasattr(self, "crawler") else None
        return settings.getbool("TUTORWATCH_STOP_ON_BLOCK", True) if settings is not None else True

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
            "config_hash": self.config_hash,
            **fields,
        }
