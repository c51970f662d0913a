"""``tutorwatch schedule``: run scheduled crawls until stopped (SIGTERM or Ctrl-C).

Reads every source in ``TUTORWATCH_SOURCES_DIR`` (default: the bundled ones), or the files and
folders given with ``--sources``; each source's ``schedule`` (cron, in ``TIME_ZONE``) starts a
crawl process, and re-checks of its flagged and confirmed ads run on its ``recheck`` cron or
``TUTORWATCH_RECHECK_SCHEDULE``; with ``TUTORWATCH_TRAIN_SCHEDULE`` a candidate model is trained
with the officers' decisions on that cron (promoted by itself only with
``TUTORWATCH_AUTO_PROMOTE=1``). ``--check`` prints the database and Redis it reached
(passwords masked), where the sources come from, and every source with its next run. See
``review_ui.scheduling`` for the rules and docs/deploy.md for running it under systemd.

In production (``TUTORWATCH_DEBUG`` off, and not the demo's own store) it refuses to start
without ``TUTORWATCH_SOURCES_DIR`` or ``--sources``: the bundled sources are the sandbox sites
of the demo and the tests, and crawling them on a server would look like working.

Exit status: 0 after a clean stop; 1 when the store or Redis cannot be reached; 2 when a source
config is invalid (one line naming the file, the source and the field), or no sources are
configured in production.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from crawler.config import ConfigError, SourceConfig, load_sources
from review_ui.management.commands.crawl import check_redis, configured_sources


def is_production() -> bool:
    """DEBUG off, and the store is not the demo's own (``<data dir>/demo.sqlite3``)."""
    from review_ui.cli import DEMO_STORE_FILE

    if settings.DEBUG:
        return False
    database = settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.sqlite3":
        return True
    demo = (Path(settings.DATA_DIR) / DEMO_STORE_FILE).expanduser().resolve()
    return Path(str(database["NAME"])).expanduser().resolve() != demo


def reached_lines(redis_url: str) -> list[str]:
    """What ``--check`` reached: the database and Redis, without their passwords."""
    from django.db import connection

    from crawler.distributed import safe_url
    from review_ui.store.connections import describe

    user = connection.settings_dict.get("USER")
    lines = [f"database: {describe()}{f' as {user}' if user else ''}: reached"]
    if redis_url:
        lines.append(f"redis: {safe_url(redis_url)}: reached")
    else:
        lines.append("redis: not configured (TUTORWATCH_REDIS_URL): each crawl keeps its own "
                     "frontier")
    return lines


def sources_from(paths: list[str]) -> dict[str, SourceConfig]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files += sorted(path.glob("*.yaml"))
        elif path.exists():
            files.append(path)
        else:
            raise ConfigError(f"{path}: no such file or folder")
    return load_sources([f.resolve() for f in files])


class Command(BaseCommand):
    help = "Run every source's crawls on its cron schedule until stopped."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--sources", action="append", default=[], metavar="PATH",
                            help="a source YAML file or a folder of them (repeatable); default: "
                                 "TUTORWATCH_SOURCES_DIR or the bundled sources")
        parser.add_argument("--run-now", action="store_true",
                            help="also start every scheduled source's crawl once, right away")
        parser.add_argument("--stop-timeout", type=float, default=60.0, metavar="SECONDS",
                            help="on SIGTERM, how long running crawls may take to finish before "
                                 "they are stopped (default 60)")
        parser.add_argument("--check", action="store_true",
                            help="check the store, Redis and every config, mark dead runs, print "
                                 "the schedule and exit")

    def handle(self, *args: Any, **options: Any) -> None:
        from review_ui.runs import mark_dead_runs
        from review_ui.scheduling import CrawlScheduler, environment
        from review_ui.store import Store, StoreNotReady

        paths = options["sources"]
        if not paths and not settings.TUTORWATCH_SOURCES_DIR and is_production():
            raise CommandError(
                "TUTORWATCH_SOURCES_DIR is not set: the scheduler would crawl the bundled sandbox "
                "sources. Set it to the folder of your sources' YAML files (or give --sources); "
                "TUTORWATCH_DEBUG=1 allows the bundled ones for development", returncode=2)
        try:
            sources = sources_from(paths) if paths else configured_sources()
        except ConfigError as exc:
            raise CommandError(str(exc), returncode=2) from None
        try:
            Store().check()
        except StoreNotReady as exc:
            raise CommandError(str(exc)) from None
        if settings.TUTORWATCH_REDIS_URL:
            check_redis(settings.TUTORWATCH_REDIS_URL)

        for run in mark_dead_runs():
            self.stdout.write(f"run {run.pk} of {run.source.name} was left running by a process "
                              f"that is gone: marked interrupted ({run.finish_reason})")

        scheduler = CrawlScheduler(
            sources, recheck_schedule=settings.TUTORWATCH_RECHECK_SCHEDULE,
            timezone=settings.TIME_ZONE, stop_timeout=options["stop_timeout"], env=environment(),
            train_schedule=settings.TUTORWATCH_TRAIN_SCHEDULE or None,
            digest_schedule=settings.TUTORWATCH_DIGEST_SCHEDULE or None,
            purge_schedule=(settings.TUTORWATCH_PURGE_SCHEDULE
                            if settings.TUTORWATCH_RETAIN_UNFLAGGED_DAYS else None),
        )
        plan = scheduler.plan()
        if options["check"]:
            for line in reached_lines(settings.TUTORWATCH_REDIS_URL):
                self.stdout.write(line)
            origin = (", ".join(paths) if paths else settings.TUTORWATCH_SOURCES_DIR
                      or "the bundled sandbox sources (TUTORWATCH_SOURCES_DIR is not set)")
            self.stdout.write(f"sources: {origin}")
        for name, purpose, cron, at in scheduler.next_runs():
            self.stdout.write(f"{name}\t{purpose}\t{cron}\tnext {at:%Y-%m-%d %H:%M %Z}")
        for name in sorted(n for n, config in sources.items() if not config.schedule):
            self.stdout.write(f"{name}\tcrawl\t-\tno schedule: crawled only by hand")
        if settings.TUTORWATCH_TRAIN_SCHEDULE:
            self.stdout.write(
                "training: candidates are registered and alerted; "
                + ("promoted when they beat the current model within the tolerance "
                   "(TUTORWATCH_AUTO_PROMOTE)" if settings.TUTORWATCH_AUTO_PROMOTE
                   else "never promoted by the scheduler (TUTORWATCH_AUTO_PROMOTE is off)"))
        if options["check"]:
            self.stdout.write(f"{len(sources)} sources, {len(plan)} jobs: all good")
            return
        if not any(purpose == "crawl" for _, purpose, _ in plan):
            self.stderr.write("warning: no source has a schedule; no crawl will run")
        self.stdout.flush()
        scheduler.run_forever(run_now=options["run_now"])
        self.stdout.write("scheduler stopped")
