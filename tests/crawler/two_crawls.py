"""Two crawls in one ``CrawlerProcess``, as ``tutorwatch crawl A B`` runs them, with the
project's settings; prints each crawl's ``log_count/*`` stats as JSON (for test_logcount.py).

``noisy`` logs one error of its own and, while both crawls are open, one error that names no
crawl; ``quiet`` logs nothing of its own, outlives ``noisy``, and then logs a warning that names
no crawl while it is the only crawl left.

Run as ``python -m tests.crawler.two_crawls`` from the checkout.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

unattributed = logging.getLogger("tests.unattributed")


class Noisy(scrapy.Spider):
    name = "noisy"

    async def start(self) -> AsyncIterator[Any]:
        await asyncio.sleep(0.5)  # both crawls are open by now
        self.logger.error("an error of the noisy crawl")
        unattributed.error("an error that names no crawl")
        return
        yield


class Quiet(scrapy.Spider):
    name = "quiet"

    async def start(self) -> AsyncIterator[Any]:
        await asyncio.sleep(1.5)  # noisy has closed by now
        unattributed.warning("a warning that names no crawl, from the only crawl left")
        return
        yield


def main() -> None:
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.set("LOG_LEVEL", "INFO", priority="cmdline")
    process = CrawlerProcess(settings, install_root_handler=True)
    crawlers = {spider.name: process.create_crawler(spider) for spider in (Noisy, Quiet)}
    for crawler in crawlers.values():
        process.crawl(crawler)
    process.start()
    print(json.dumps({
        name: {key: value for key, value in crawler.stats.get_stats().items()
               if key.startswith("log_count/") or key == "finish_reason"}
        for name, crawler in crawlers.items()
    }))


if __name__ == "__main__":
    main()
