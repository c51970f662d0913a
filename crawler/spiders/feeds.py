"""Spiders for ``kind: feed`` (RSS and Atom) and ``kind: sitemap`` sources (issue 18 point 4).

A feed is the lightest way to watch a site that has one (WordPress's ``/feed/``, Discuz's
``forum.php?mod=rss``, DedeCMS's ``/data/rss/N.xml``): one request shows its latest posts. It is
parsed with feedparser, which reads RSS 0.9x–2.0, RSS 1.0 and Atom, in whatever charset they
declare. Without ``detail`` selectors each entry is the ad: its title, its content (or summary)
as text, its date; the URL is the entry's link, and the entry is kept as the raw evidence.
With ``detail`` selectors each entry's link is fetched and read like an HTML detail page (for
feeds that carry only an excerpt), so stored ads are not fetched again until due
(``crawler.incremental``).

A sitemap source reads ``sitemap.xml`` files, sitemap indexes and ``robots.txt`` ``Sitemap:``
lines with Scrapy's :class:`~scrapy.spiders.SitemapSpider`; the URLs that match one of the
source's ``follow`` regular expressions are its ads, fetched and read with its ``detail``
selectors (incrementally, as above). Every other URL of the sitemap is left alone.

Feed and sitemap files count as list pages (``tutorwatch/pages/list``); one that cannot be read
as a feed or sitemap counts as ``tutorwatch/pages/list_without_links`` and is a parse failure
for the health checks, as a list page without links is. A sitemap that names no ad (an index's
sitemap of tag pages) is not a failure: ``tutorwatch/pages/sitemap_without_matches``.
"""

from __future__ import annotations

import calendar
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Response
from scrapy.spiders import SitemapSpider

from crawler.spiders.html import HtmlSourceSpider
from crawler.text import clean_text, html_to_text


def _entry_text(entry: Any) -> str:
    """An entry's text: its full content if the feed has it, else its summary."""
    for content in entry.get("content") or ():
        value = content.get("value") or ""
        if value.strip():
            return html_to_text(value) if "html" in (content.get("type") or "html") else \
                clean_text(value)
    summary = entry.get("summary") or ""
    return html_to_text(summary) if "<" in summary else clean_text(summary)


def _entry_date(entry: Any) -> str:
    """The entry's date in ISO form with its offset: feedparser reads RSS's RFC 822 dates
    ("Fri, 09 Oct 2026 20:55:00 +0800") and Atom's into UTC, which the date parsing of the
    pipelines (``crawler.text.parse_posted_at``) would not. An unreadable date is kept as
    the feed wrote it."""
    for key in ("published", "updated", "created"):
        parsed = entry.get(f"{key}_parsed")
        if parsed:
            return datetime.fromtimestamp(calendar.timegm(parsed), UTC).isoformat()
    return next((str(entry[key]) for key in ("published", "updated", "created")
                 if entry.get(key)), "")


class FeedSourceSpider(HtmlSourceSpider):
    def onsite(self, url: str) -> bool:
        host = (urlsplit(url).hostname or "").lower()
        return any(host == d or host.endswith("." + d) for d in self.allowed_domains)

    def parse_list(self, response: Response, page: int, stale: int = 0) -> Any:
        import feedparser

        if not response.body.strip():
            self.record_failure(response.url, "empty_body")
            return
        headers = {"content-type": (response.headers.get("Content-Type") or b"")
                   .decode("latin-1")}
        feed = feedparser.parse(response.body, response_headers=headers)
        self.count("pages/list")
        entries = [e for e in feed.entries if (e.get("link") or "").strip()]
        if not entries:
            self.logger.warning("%s is not a feed with linked entries (%s)", response.url,
                                feed.get("bozo_exception") or "no entries")
            self.count("pages/list_without_links")
            return
        links = self.new_links(response, [e["link"].strip() for e in entries])
        fresh = set(links)
        for entry in entries:
            link = entry["link"].strip()
            if link not in fresh:
                continue
            fresh.discard(link)
            if self.source.detail:
                if request := self.follow(response, link, self.parse_detail):
                    yield request
            else:
                yield from self.entry_item(response, entry)

    def entry_item(self, response: Response, entry: Any) -> Iterable[dict[str, Any]]:
        """The ad an entry is, when the source reads no page: the entry kept as its evidence."""
        url = response.urljoin(entry["link"].strip())
        if not self.onsite(url):
            self.record_failure(url, "offsite", tally="skipped")
            return
        self.count("items/from_feed")
        item = self.build_item(
            response, title=clean_text(entry.get("title") or "").replace("\n", " "),
            body_text=_entry_text(entry), posted_at_raw=_entry_date(entry), extraction="",
        )
        evidence = {key: entry.get(key) for key in ("title", "link", "published", "updated",
                                                     "summary", "content", "author", "id")}
        item.update(url=url, raw_body=_json_bytes(evidence),
                    raw_content_type="application/json; charset=utf-8", raw_encoding="utf-8")
        yield item


def _json_bytes(value: Any) -> bytes:
    import json

    return json.dumps(value, ensure_ascii=False, default=str).encode("utf-8")


class SitemapSourceSpider(HtmlSourceSpider, SitemapSpider):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.sitemap_urls = list(self.source.start_urls)
        self.sitemap_rules = [(pattern, "parse_detail") for pattern in self.source.follow]
        super().__init__(*args, **kwargs)

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.source.start_urls:
            yield self.request(url, self.parse_list, page=1)

    def parse_list(self, response: Response, page: int = 1, stale: int = 0) -> Any:
        """A sitemap, sitemap index or robots.txt: its ad URLs, and the sitemaps it names,
        requested with this spider's failure accounting and back to this method."""
        if not response.body.strip():
            self.record_failure(response.url, "empty_body")
            return
        self.count("pages/list")
        requests = list(self._parse_sitemap(response))
        details = [r for r in requests if r.callback == self.parse_detail]
        if not requests:
            if self._readable_sitemap(response):
                # An index's sitemap of tag or about pages: nothing there is an ad.
                self.count("pages/sitemap_without_matches")
            else:
                self.logger.warning("%s is not a sitemap, nor a robots.txt naming one",
                                    response.url)
                self.count("pages/list_without_links")
        fresh = set(self.new_links(response, [r.url for r in details]))
        for request in requests:
            if request.callback == self.parse_detail:
                if request.url in fresh and (follow := self.follow(response, request.url,
                                                                   self.parse_detail)):
                    fresh.discard(request.url)
                    yield follow
            elif self.may_follow_page(page):
                yield self.request(request.url, self.parse_list, page=page + 1)


    def _readable_sitemap(self, response: Response) -> bool:
        if response.url.endswith("/robots.txt"):
            return "sitemap:" in response.text.lower() if hasattr(response, "text") else False
        body = self._get_sitemap_body(response)
        return bool(body) and (b"<urlset" in body or b"<sitemapindex" in body)


__all__ = ["FeedSourceSpider", "SitemapSourceSpider"]
