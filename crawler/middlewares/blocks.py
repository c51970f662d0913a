"""Honest blocks: a site that answers with a challenge is recorded as blocking us, not crawled on.

A captcha, a slider, a login wall, a "访问过于频繁" page or a redirect to a login or verify URL
(``crawler.failures.block_sign``) fails its request with :class:`SiteBlocking`, counted as
``tutorwatch/failed/blocked`` (with the kind of block under ``tutorwatch/blocked/<kind>``), and
the spider stops the crawl (``crawler.spiders.base``): the run ends as ``blocked`` and the
scheduler backs off the source (``review_ui.scheduling``). Nothing here retries, waits out,
solves or evades a challenge: a site that does not want to be crawled is left alone, and its
officers are told.

Sits between the redirects (600), the charset decision (585) and meta refresh (580), whose
responses it sees after them, and the retries (550), so that a challenge is never retried.
"""

from __future__ import annotations

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response

from crawler.failures import response_block_sign


class SiteBlocking(IgnoreRequest):
    """The site answered a challenge (``kind``) instead of the page."""

    def __init__(self, kind: str, url: str) -> None:
        super().__init__(f"the site is blocking us ({kind}) at {url}")
        self.kind = kind
        self.url = url


class BlockDetectionMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    def _source_crawl(self) -> bool:
        from crawler.spiders.base import crawls_a_source

        return crawls_a_source(self.crawler.spidercls)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BlockDetectionMiddleware:
        return cls(crawler)

    def process_response(self, request: Request, response: Response,
                         spider: Spider | None = None) -> Response:
        if request.meta.get("dont_obey_robotstxt") or not self._source_crawl():
            return response  # robots.txt, and Scrapy's tools fetching a page, are not judged
        kind = response_block_sign(response, request)
        if kind is None:
            return response
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(f"tutorwatch/blocked/{kind}")
        raise SiteBlocking(kind, response.url)
