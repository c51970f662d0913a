"""``tutorwatch crawl NAME... | --source FILE.yaml... [-s NAME=VALUE...]``: crawl sources now.

Bundled sources (``crawler/sources/*.yaml``) are named; any other is given by its file. ``-s``
overrides Scrapy settings as for ``scrapy crawl``. An invalid config exits with status 2 and one
line naming the key, before anything is crawled.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from crawler.config import ConfigError, SourceConfig, bundled_sources, load_source


def failures(stats: dict[str, Any]) -> dict[str, int]:
    """URLs that yielded no ad, by reason (``crawler.failures``): each URL once, after retries."""
    prefix = "tutorwatch/failed/"
    return {k[len(prefix):]: int(v) for k, v in sorted(stats.items()) if k.startswith(prefix)}


def failed_pages(stats: dict[str, Any]) -> int:
    """URLs that failed, whatever the reason (requests robots.txt forbids are not failures: they
    are never sent; they are counted apart)."""
    return sum(failures(stats).values())


def dropped(stats: dict[str, Any]) -> int:
    return sum(v for k, v in stats.items() if k.startswith("tutorwatch/items/dropped/"))


def _reasons(counts: dict[str, int]) -> str:
    return f" ({', '.join(f'{reason} {n}' for reason, n in counts.items())})" if counts else ""


class Command(BaseCommand):
    help = "Crawl one or more sources into the store and classify every ad."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("names", nargs="*", help="bundled source names (see --list)")
        parser.add_argument("--source", action="append", default=[], metavar="FILE.yaml",
                            help="a source config file (repeatable)")
        parser.add_argument("-s", "--set", dest="overrides", action="append", default=[],
                            metavar="NAME=VALUE", help="override a Scrapy setting (repeatable)")
        parser.add_argument("--all", action="store_true", help="crawl every bundled source")
        parser.add_argument("--list", action="store_true", help="list bundled sources and exit")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            configs = self._configs(options)
        except ConfigError as exc:
            raise CommandError(str(exc), returncode=2) from None
        if configs is None:
            return
        settings = self._settings(options["overrides"])

        from review_ui.queue import StoreNotReady, check_store

        try:
            check_store()
        except StoreNotReady as exc:
            raise CommandError(str(exc)) from None

        from scrapy.crawler import CrawlerProcess

        from crawler.spiders import spider_for

        process = CrawlerProcess(settings, install_root_handler=True)
        crawlers = []
        for config in configs:
            crawler = process.create_crawler(spider_for(config))
            crawlers.append((config, crawler))
            process.crawl(crawler)
        started = time.monotonic()
        process.start()
        elapsed = time.monotonic() - started

        failed = []
        for config, crawler in crawlers:
            stats = crawler.stats.get_stats() if crawler.stats else {}
            reason = stats.get("finish_reason", "unknown")
            self.stdout.write(
                f"{config.name}: {reason}; pages {stats.get('response_received_count', 0)}, "
                f"ads {stats.get('item_scraped_count', 0)} "
                f"(new {stats.get('tutorwatch/items/stored/new', 0)}), "
                f"flagged {stats.get('tutorwatch/items/flagged', 0)}, "
                f"failed pages {failed_pages(stats)}{_reasons(failures(stats))}, "
                f"dropped {dropped(stats)}, "
                f"forbidden by robots.txt {stats.get('robotstxt/forbidden', 0)}, "
                f"errors {stats.get('log_count/ERROR', 0)}"
            )
            if reason != "finished":
                failed.append(config.name)
        self.stdout.write(f"done in {elapsed:.1f} s")
        if failed:
            raise CommandError(f"crawl did not finish: {', '.join(failed)}")

    def _configs(self, options: dict[str, Any]) -> list[SourceConfig] | None:
        bundled = bundled_sources()
        if options["list"]:
            for name, config in bundled.items():
                self.stdout.write(f"{name}\t{config.kind}\t{config.start_urls[0]}")
            return None
        configs: list[SourceConfig] = []
        for path in options["source"]:
            configs.append(load_source(Path(path)))
        names = list(bundled) if options["all"] else options["names"]
        for name in names:
            if name not in bundled:
                raise ConfigError(
                    f"unknown source {name!r} (bundled: {', '.join(bundled)}); "
                    "give a file with --source FILE.yaml"
                )
            configs.append(bundled[name])
        if not configs:
            raise CommandError("name a source, give --source FILE.yaml, or use --all")
        seen: dict[str, str] = {}
        for config in configs:
            if config.name in seen:
                raise ConfigError(f"{config.path}: key 'name': duplicate source name {config.name!r}")
            seen[config.name] = config.path or ""
        return configs

    def _settings(self, overrides: list[str]) -> Any:
        from scrapy.settings import Settings

        settings = Settings()
        settings.setmodule("crawler.settings", priority="project")
        for override in overrides:
            name, sep, value = override.partition("=")
            if not sep or not name.strip():
                raise CommandError(f"-s expects NAME=VALUE, got {override!r}", returncode=2)
            settings.set(name.strip(), value, priority="cmdline")
        return settings
