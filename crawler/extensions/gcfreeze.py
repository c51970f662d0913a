"""The start-up's objects kept out of the garbage collector's way.

Once a crawl's engine has started, most objects alive live as long as the process: the modules
of Django, Scrapy, Twisted and tutorwatch, the settings, the crawl's components. Every full
collection walked all of them again: 2.3 of the 3.1 CPU s the collector took in a crawl of
1,551 pages (docs/benchmarks.md, 2026-12-06 22:10). ``gc.freeze()`` moves them to the
permanent generation, which collections skip; the objects made afterwards are collected as
before. It happens once per process, when the first crawl's engine starts: what is frozen is
what start-up left, a bounded amount, not a growing share of a long crawl (an object frozen
is never freed, so freezing again with every crawl of a long process would keep the garbage of
the crawls before it).

Enabled in ``crawler/settings.py`` (``EXTENSIONS``); no setting of its own.
"""

from __future__ import annotations

import gc

from scrapy import signals
from scrapy.crawler import Crawler

_frozen = False  # in this process


class FreezeStartup:
    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FreezeStartup:
        extension = cls()
        crawler.signals.connect(extension.engine_started, signal=signals.engine_started)
        return extension

    def engine_started(self) -> None:
        global _frozen
        if not _frozen:
            _frozen = True
            gc.freeze()
