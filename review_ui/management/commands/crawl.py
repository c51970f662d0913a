"""``tutorwatch crawl NAME... | --source FILE.yaml... [-s NAME=VALUE...]``: crawl sources now.

Sources in ``TUTORWATCH_SOURCES_DIR`` (default: the bundled ``crawler/sources/*.yaml``) are
named; any other is given by its file. ``-s`` overrides Scrapy settings as for ``scrapy crawl``.
``--recheck`` fetches the source's flagged and confirmed ads that are due instead of its list
pages; ``--join NAME`` joins a shared crawl under way in Redis (what ``tutorwatch worker`` runs).

Exit status: 0 when every crawl finished and passed its health checks; 1 when one failed (or the
store or Redis cannot be reached); 2 for an invalid config (one line naming the key, before
anything is crawled); 3 when a crawl of the source is already running.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from crawler.config import ConfigError, SourceConfig, bundled_sources, load_source, parse_source
from crawler.monitors import (
    CAPPED_REASONS,
    errors_logged,
    errors_of_no_crawl,
    failed_by_reason,
    weak_selectors,
)

EXIT_BUSY = 3


def configured_sources() -> dict[str, SourceConfig]:
    """The sources ``tutorwatch crawl NAME`` and the scheduler know: those in
    ``TUTORWATCH_SOURCES_DIR``, or the bundled ones."""
    from django.conf import settings

    directory = settings.TUTORWATCH_SOURCES_DIR
    if not directory:
        return bundled_sources()
    if not Path(directory).is_dir():
        raise ConfigError(f"{directory}: TUTORWATCH_SOURCES_DIR is not a directory")
    return bundled_sources(Path(directory))


def check_redis(url: str) -> None:
    """Fail with a clear message when the configured Redis cannot be reached."""
    from crawler.distributed import RedisUnavailable, connect

    try:
        connect(url).close()
    except RedisUnavailable as exc:
        raise CommandError(f"{exc} (TUTORWATCH_REDIS_URL)") from None


def failures(stats: dict[str, Any]) -> dict[str, int]:
    """URLs that yielded no ad, by reason (``crawler.failures``): each URL once, after retries."""
    return failed_by_reason(stats)


def failed_pages(stats: dict[str, Any]) -> int:
    """URLs that failed, whatever the reason (requests robots.txt forbids are not failures: they
    are never sent; they are counted apart)."""
    return sum(failures(stats).values())


def dropped(stats: dict[str, Any]) -> int:
    return sum(v for k, v in stats.items() if k.startswith("tutorwatch/items/dropped/"))


def _errors_of_no_crawl(stats: dict[str, Any]) -> str:
    """Errors logged while several crawls ran, naming none of them: said apart, once per crawl
    that saw them, since nobody can tell whose they were."""
    count = errors_of_no_crawl(stats)
    return f" (and {count} of this process naming no crawl)" if count else ""


def _reasons(counts: dict[str, int]) -> str:
    return f" ({', '.join(f'{reason} {n}' for reason, n in counts.items())})" if counts else ""


class Command(BaseCommand):
    help = "Crawl one or more sources into the store and classify every ad."
    # A crawl serves no page: Django's system checks would import every view (Django REST
    # framework, drf-spectacular) in every scheduled crawl, about 12 % of its start-up
    # (docs/benchmarks.md, issue 22). ``tutorwatch check`` runs them.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("names", nargs="*", help="bundled source names (see --list)")
        parser.add_argument("--source", action="append", default=[], metavar="FILE.yaml",
                            help="a source config file (repeatable)")
        parser.add_argument("-s", "--set", dest="overrides", action="append", default=[],
                            metavar="NAME=VALUE", help="override a Scrapy setting (repeatable)")
        parser.add_argument("--all", action="store_true", help="crawl every bundled source")
        parser.add_argument("--list", action="store_true", help="list bundled sources and exit")
        parser.add_argument("--recheck", action="store_true",
                            help="re-check the stored flagged and confirmed ads that are due")
        parser.add_argument("--join", metavar="NAME",
                            help="join the shared crawl of NAME under way in Redis, if any")
        parser.add_argument("--trigger", choices=["manual", "scheduled"], default="manual",
                            help="what started the crawl, as its run records it")

    def handle(self, *args: Any, **options: Any) -> None:
        from review_ui.store import Store, StoreNotReady

        join = options["join"]
        if join:
            try:
                Store().check()
            except StoreNotReady as exc:
                raise CommandError(str(exc)) from None
            configs = self._joinable(join)
            if configs is None:
                return
        else:
            try:
                configs = self._configs(options)
            except ConfigError as exc:
                raise CommandError(str(exc), returncode=2) from None
            if configs is None:
                return
        settings = self._settings(options["overrides"])
        settings.set("TUTORWATCH_TRIGGER", options["trigger"], priority="cmdline")
        if options["recheck"]:
            # A re-check fetches a few known pages: always with this process's own frontier.
            settings.set("TUTORWATCH_RECHECK", True, priority="cmdline")
            settings.set("SCHEDULER", "scrapy.core.scheduler.Scheduler", priority="cmdline")
        redis_url = settings.get("REDIS_URL") if not options["recheck"] else ""

        try:
            Store().check()
        except StoreNotReady as exc:
            raise CommandError(str(exc)) from None
        if redis_url:
            check_redis(redis_url)

        from review_ui.runs import running_run

        if not redis_url:
            for config in configs:
                busy = running_run(config.name)
                if busy is not None:
                    raise CommandError(
                        f"a crawl of {config.name!r} is already running (run {busy.pk}, "
                        f"workers {', '.join(w.get('id', '?') for w in busy.workers)}); "
                        "nothing was started", returncode=EXIT_BUSY,
                    )

        from scrapy.crawler import CrawlerProcess

        from crawler.spiders import spider_for
        from review_ui.logs import set_level

        # Our one root handler (review_ui.logs), not a second one of Scrapy's: one line per event.
        process = CrawlerProcess(settings, install_root_handler=False)
        set_level(settings.get("LOG_LEVEL"))
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
                f"stored earlier and not due {stats.get('tutorwatch/incremental/skipped', 0)}, "
                f"flagged {stats.get('tutorwatch/items/flagged', 0)}, "
                f"failed pages {failed_pages(stats)}{_reasons(failures(stats))}, "
                f"dropped {dropped(stats)}, "
                f"forbidden by robots.txt {stats.get('robotstxt/forbidden', 0)}, "
                f"errors {errors_logged(stats)}{_errors_of_no_crawl(stats)}"
            )
            weak = weak_selectors(stats)
            if weak:
                self.stdout.write(f"{config.name}: selectors matched on fewer than half the "
                                  "pages: " + "; ".join(
                                      f"{w['key']} matched {w['matched']} of {w['pages']} pages"
                                      for w in weak))
            if reason in CAPPED_REASONS:
                self.stdout.write(f"{config.name}: stopped by {reason.upper()} as asked: not a "
                                  "failure, no alert (ads found were stored)")
            problems = self._run_problems(stats)
            for problem in problems:
                self.stdout.write(f"{config.name}: health check failed: {problem}")
            if reason not in ("finished", *CAPPED_REASONS) or problems:
                failed.append(config.name)
        self.stdout.write(f"done in {elapsed:.1f} s")
        if failed:
            raise CommandError(f"crawl did not finish or failed its health checks: "
                               f"{', '.join(failed)}")

    def _run_problems(self, stats: dict[str, Any]) -> list[str]:
        """Health check failures recorded on the crawl's run (none if it recorded no run)."""
        from crawler.monitors import describe
        from review_ui.models import CrawlRun

        run_id = stats.get("tutorwatch/run")
        if not run_id:
            return []
        try:
            run = CrawlRun.objects.filter(pk=int(run_id)).first()
        except Exception:  # the store may be gone: the crawl's own reason says so
            return []
        if run is None or run.status == CrawlRun.Status.RUNNING:
            return []  # a worker of a shared crawl that others still finish
        return [describe(failure) for failure in run.health]

    def _joinable(self, name: str) -> list[SourceConfig] | None:
        """The config of the shared crawl of ``name`` under way, or None (nothing to join)."""
        from django.conf import settings

        from crawler.distributed import SharedCrawl, connect, worker_id
        from review_ui.models import Source

        if not settings.TUTORWATCH_REDIS_URL:
            raise CommandError("--join needs TUTORWATCH_REDIS_URL (a shared crawl lives in Redis)")
        check_redis(settings.TUTORWATCH_REDIS_URL)
        server = connect(settings.TUTORWATCH_REDIS_URL)
        shared = SharedCrawl(server, settings.TUTORWATCH_REDIS_PREFIX, name, worker_id())
        if not shared.under_way():
            self.stdout.write(f"{name}: no shared crawl under way; nothing to join")
            return None
        source = Source.objects.filter(name=name).first()
        if source is None or not source.config:
            raise CommandError(f"source {name!r} is not in the store; cannot join its crawl")
        try:
            return [parse_source(source.config, origin=source.config_path or f"<store:{name}>")]
        except ConfigError as exc:
            raise CommandError(str(exc), returncode=2) from None

    def _configs(self, options: dict[str, Any]) -> list[SourceConfig] | None:
        bundled = configured_sources()
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
                raise ConfigError(
                    f"{config.path}: key 'name': duplicate source name {config.name!r}"
                )
            seen[config.name] = config.path or ""
        return configs

    def _settings(self, overrides: list[str]) -> Any:
        from django.core.exceptions import ImproperlyConfigured
        from scrapy.settings import Settings

        from crawler.network import SETTING, parse_networks

        settings = Settings()
        try:
            settings.setmodule("crawler.settings", priority="project")
        except ImproperlyConfigured as exc:  # a malformed environment variable, named
            raise CommandError(str(exc), returncode=2) from None
        for override in overrides:
            name, sep, value = override.partition("=")
            if not sep or not name.strip():
                raise CommandError(f"-s expects NAME=VALUE, got {override!r}", returncode=2)
            settings.set(name.strip(), value, priority="cmdline")
        try:
            parse_networks(settings.get(SETTING))
        except ValueError as exc:
            raise CommandError(str(exc), returncode=2) from None
        return settings
