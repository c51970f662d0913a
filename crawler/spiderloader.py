"""A Scrapy spider loader whose spiders are the source configs.

Every YAML file under ``crawler/sources/`` (and any extra files listed in the setting
``TUTORWATCH_SOURCE_FILES``) becomes a spider named after its source, so ``scrapy list`` and
``scrapy crawl NAME`` work from the checkout without one Python class per site.

No source claims a URL by its host (``find_by_request``): ``scrapy shell URL``, ``scrapy fetch
URL`` and ``scrapy view URL`` use Scrapy's default spider, so trying a page, even one of a site
that is a source already, never starts a crawl of that source; ``--spider NAME`` picks a source.
"""

from __future__ import annotations

from pathlib import Path

from scrapy import Request, Spider
from scrapy.interfaces import ISpiderLoader
from scrapy.settings import BaseSettings
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
        # Scrapy's shell runs the start requests of the spider it picks: a source picked by its
        # host would crawl the whole source, into the store, behind the user's back.
        return []
