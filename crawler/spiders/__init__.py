"""Config-driven spiders: one for ``kind: html`` sites, one for ``kind: json`` APIs.

``spider_for(config)`` returns a spider class bound to one source config; the project's spider
loader (``crawler.spiderloader``) does this for every bundled source, so ``scrapy crawl NAME``
works, and ``tutorwatch crawl --source FILE.yaml`` does it for any file.
"""

from __future__ import annotations

from crawler.config import SourceConfig
from crawler.spiders.base import SourceSpider
from crawler.spiders.feeds import FeedSourceSpider, SitemapSourceSpider
from crawler.spiders.html import HtmlSourceSpider
from crawler.spiders.json_api import JsonSourceSpider

SPIDER_KINDS: dict[str, type[SourceSpider]] = {
    "html": HtmlSourceSpider,
    "json": JsonSourceSpider,
    "feed": FeedSourceSpider,
    "sitemap": SitemapSourceSpider,
}


# Download handlers of a source with ``render: true``: pages go through Chromium (scrapy-playwright,
# launched with PLAYWRIGHT_LAUNCH_OPTIONS from crawler/settings.py, its requests and connections
# kept to the source's sites by crawler/render.py); robots.txt and anything without meta
# "playwright" still go through Scrapy's own handler. Other sources never load Playwright.
RENDER_SETTINGS = {
    "DOWNLOAD_HANDLERS": {
        "http": "crawler.render.GuardedPlaywrightHandler",
        "https": "crawler.render.GuardedPlaywrightHandler",
    },
}


def spider_for(config: SourceConfig) -> type[SourceSpider]:
    """A spider class named after ``config.name`` that crawls that source."""
    base = SPIDER_KINDS[config.kind]
    if config.search:
        from crawler.spiders.search import SearchMixin

        base = type(f"Search{base.__name__}", (SearchMixin, base), {})
    attrs: dict = {"name": config.name, "source": config}
    if config.render:
        attrs["custom_settings"] = RENDER_SETTINGS
    return type(f"{base.__name__}_{config.name}", (base,), attrs)
