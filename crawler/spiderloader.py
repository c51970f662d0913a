"""A Scrapy spider loader whose spiders are the source configs.

Every YAML file under ``crawler/sources/`` (and any extra files listed in the setting
``TUTORWATCH_SOURCE_FILES``) becomes a spider named after its source, so ``scrapy list`` and
``scrapy crawl NAME`` work from the checkout without one Python class per site.
"""

from __future__ import annotations

from pathlib import Path

from scrapy import Request, Spider
from scrapy.interfaces import ISpiderLoader
from scrapy.settings import BaseSettings
from scrapy.utils.httpobj import urlparse_cached
from zope.interface import implementer

from crawler.config import BUNDLED_DIR, SourceConfig, load_sources
from crawler.spiders import spider_for


@implementer(ISpiderLoader)
class SourceSpiderLoader:
    def __init__(self, sources: dict[str, SourceConfig]) -> None:
        self._sources = sources

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> SourceSpiderLoader:
        directory = Path(settings.get("TUTORWATCH_SOURCES_DIR") or BUNDLED_DIR)
        paths = sorted(directory.glob("*.yaml"))
        paths += [Path(p) for p in settings.getlist("TUTORWATCH_SOURCE_FILES")]
        return cls(load_sources(paths))

    def load(self, spider_name: str) -> type[Spider]:
        try:
            return spider_for(self._sources[spider_name])
        except KeyError:
            raise KeyError(f"Spider not found: {spider_name}") from None

    def list(self) -> list[str]:
        return sorted(self._sources)

    def find_by_request(self, request: Request) -> list[str]:
        host = urlparse_cached(request).hostname or ""
        return [
            name
            for name, config in self._sources.items()
            if any(host == d or host.endswith("." + d) for d in config.allowed_domains)
        ]
