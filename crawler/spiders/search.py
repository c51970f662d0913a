"""Search-driven discovery in a spider (``crawler.search``): the site's search is asked for each
term, and its result pages are read with the source's ``list.links``.

A result page's links all count as found by its term, and each result is requested once
however many terms find it (the crawl's link de-duplication, ``SourceSpider.new_links``). Result
pages go on while they show results, up to ``search.pages``. A term with no result is not a
parse failure: searching for a disguise a site has no ad for is the usual case.

Stats: ``tutorwatch/search/found_by`` {result URL: [terms]} and ``tutorwatch/search/results``
{term: results listed}, kept on the crawl run (``review_ui.search_terms`` reads them).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import scrapy
from scrapy.http import Response
from w3lib.url import canonicalize_url

from crawler.search import merged_terms, search_url
from crawler.spiders.html import select

FOUND_BY_KEY = "tutorwatch/search/found_by"
RESULTS_KEY = "tutorwatch/search/results"


def admin_terms() -> list[str]:
    """The active terms supervisors added in the admin (through the store's door,
    ``review_ui.store.Store.search_terms``); none when there is no store to ask."""
    try:
        from review_ui.store import Store

        store = Store()
    except Exception:  # a crawl without Django settings: the defaults only
        return []
    try:
        return store.search_terms()
    except Exception:  # the store may be down: search with the defaults
        return []
    finally:
        store.close()  # this runs on a thread: its own connection


class SearchMixin:
    """Put before a source spider class: its start pages, then its searches."""

    async def start(self) -> AsyncIterator[scrapy.Request]:
        async for request in super().start():  # type: ignore[misc]
            yield request
        for request in await self.search_requests():
            yield request

    async def search_requests(self) -> list[scrapy.Request]:
        search = self.source.search
        added = [] if search["terms"] else await asyncio.to_thread(admin_terms)
        self.search_terms = merged_terms(search["terms"], added)
        return [self.request(search_url(search["url"], term, 1), self.parse_search,
                             term=term, page=1) for term in self.search_terms]

    def _found(self, term: str, urls: list[str]) -> None:
        found_by = getattr(self, "found_by", None)
        if found_by is None:
            found_by = self.found_by = {}
        for url in urls:
            terms = found_by.setdefault(url, [])
            if term not in terms:
                terms.append(term)
        stats = self.crawler.stats if getattr(self, "crawler", None) is not None else None
        if stats is not None:
            stats.set_value(FOUND_BY_KEY, found_by)
            results = dict(stats.get_value(RESULTS_KEY) or {})
            results[term] = results.get(term, 0) + len(urls)
            stats.set_value(RESULTS_KEY, results)

    def parse_search(self, response: Response, term: str, page: int) -> Any:
        response = self._readable(response)
        if response is None:
            return
        self.count("pages/list")
        self.count("search/pages")
        links = [href.strip() for href in select(response, self.source.list["links"]).getall()
                 if href and href.strip()]
        self._found(term, [canonicalize_url(response.urljoin(link)) for link in links])
        for href in self.new_links(response, links):
            if request := self.follow(response, href, self.parse_detail):
                yield request
        if links and page < self.source.search["pages"]:
            yield self.request(search_url(self.source.search["url"], term, page + 1),
                               self.parse_search, term=term, page=page + 1)


__all__ = ["FOUND_BY_KEY", "RESULTS_KEY", "SearchMixin"]
