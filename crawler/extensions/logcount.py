"""Count each crawl's own log records by level, as ``log_count/<LEVEL>`` in its stats.

Scrapy's ``LogCount`` extension adds a handler to the root logger for each crawl, and each
handler counts every record of the process: when several crawls run in one process
(``tutorwatch crawl A B``, the demo), one crawl's error shows up in the error count of every
crawl. This extension, which replaces it, counts a record only for the crawl it belongs to:

- a record that names its crawl (Scrapy's components and every spider's ``self.logger`` log
  with ``extra={"spider": ...}`` or ``extra={"crawler": ...}``, and so do tutorwatch's
  pipelines) is counted by that crawl alone, as ``log_count/<LEVEL>``;
- a record that names no crawl (a library's own logger, an unhandled error in a callback) is
  the crawl's own when only one crawl is open in the process, which is every scheduled crawl;
  while several are open nobody can tell whose it is, so each of them counts it apart, as
  ``log_count/unattributed/<LEVEL>``: the crawl summary shows those errors on their own, and
  no crawl's error count takes them.

A crawl counts from the moment its extensions are built until it closes, at the log level of
its settings (``LOG_LEVEL``), as Scrapy's extension does. Enabled in ``crawler/settings.py``
(``EXTENSIONS``), with Scrapy's ``LogCount`` turned off.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler

UNATTRIBUTED = "log_count/unattributed/"

# The crawls counting now, in this process: a record naming no crawl is the crawl's own only
# while that crawl is the one open.
_open: set[CrawlLogCounter] = set()


def record_crawler(record: logging.LogRecord) -> Any:
    """The crawler a log record names (through ``extra``), or None."""
    crawler = getattr(record, "crawler", None)
    if crawler is None:
        crawler = getattr(getattr(record, "spider", None), "crawler", None)
    return crawler


class CrawlLogCounter(logging.Handler):
    """Counts the records of one crawl into ``stats`` (see the module's docstring)."""

    def __init__(self, crawler: Any, stats: Any, level: int | str = logging.NOTSET) -> None:
        super().__init__(level)
        self.crawler = crawler
        self.stats = stats

    def emit(self, record: logging.LogRecord) -> None:
        owner = record_crawler(record)
        if owner is self.crawler or (owner is None and _open == {self}):
            self.stats.inc_value(f"log_count/{record.levelname}")
        elif owner is None:
            self.stats.inc_value(f"{UNATTRIBUTED}{record.levelname}")

    def install(self) -> None:
        _open.add(self)
        logging.root.addHandler(self)

    def remove(self) -> None:
        _open.discard(self)
        logging.root.removeHandler(self)


class CrawlLogCount:
    """The extension: one :class:`CrawlLogCounter` per crawl, on the root logger while the
    crawl runs."""

    def __init__(self, counter: CrawlLogCounter) -> None:
        self.counter = counter

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlLogCount:
        level = crawler.settings.get("LOG_LEVEL") or logging.NOTSET
        extension = cls(CrawlLogCounter(crawler, crawler.stats, level))
        # From now, not from spider_opened: a crawl built beside another one must already be
        # counted as open, so that neither takes the records that name no crawl for its own.
        extension.counter.install()
        crawler.signals.connect(extension.closed, signal=signals.spider_closed)
        crawler.signals.connect(extension.closed, signal=signals.engine_stopped)
        return extension

    def closed(self) -> None:
        self.counter.remove()
