"""The store's one door: everything a crawl asks of the database goes through :class:`Store`.

The crawler (``crawler/``) imports nothing of Django and nothing of ``review_ui`` but this
module (``tests/test_boundaries.py`` checks it). A :class:`Store` sets Django up when it is
made, if nothing has yet (``DJANGO_SETTINGS_MODULE`` defaults to ``review_ui.settings``), and
keeps Django's connections and errors inside: a database that fails while a crawl writes
raises :class:`StoreUnavailable`, one that cannot take ads at all :class:`StoreNotReady`.

What the door offers:

- :meth:`Store.check`: can the store take ads (reachable, migrated)?
- :meth:`Store.ingest`: store a batch of crawled ads with their verdicts, and queue the flagged
  ones for review (a single ad is a batch of one; ``review_ui.store.ingest``);
- :meth:`Store.current_model_path`: the promoted model version's file, which a crawl classifies
  with unless ``TUTORWATCH_MODEL`` names one (``review_ui.model_registry``);
- :meth:`Store.record_takedown`, :meth:`Store.stored_urls`, :meth:`Store.due_rechecks`:
  takedowns, and the plans of incremental crawls and re-checks (``review_ui.store.rechecks``);
- :meth:`Store.start_run`, :meth:`Store.join_run`, :meth:`Store.beat`, :meth:`Store.finish_run`,
  :meth:`Store.mark_dead_runs`: the crawl's run (``review_ui.runs``);
- :meth:`Store.before_fork`, :meth:`Store.in_forked_child`, :meth:`Store.close`: the database
  connections of the process and thread that call them; :meth:`Store.warm_up`: what storing
  loads on first use, loaded beforehand;
- :meth:`Store.start_capture_worker`: the process that screenshots flagged ads beside a crawl
  (``review_ui.capture``).

A ``Store`` holds no state of its own: it may be handed to a worker process (it pickles), and
each thread or process uses its own connection, as Django does.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar

__all__ = ["IngestResult", "Store", "StoreNotReady", "StoreUnavailable", "TAKEDOWNS",
           "region_problem"]

TAKEDOWNS = ("http_404", "http_410", "gone")  # how an ad can be gone from its site
CAPTURE_NICENESS = 19  # the capture worker's (start_capture_worker)
# The launcher of a held capture worker: read standard input to its end, then become the worker.
CAPTURE_HOLD = ("import os, sys\nwhile os.read(0, 65536):\n    pass\n"
                "os.execv(sys.argv[1], sys.argv[1:])")

Result = TypeVar("Result")


def region_problem(region: str) -> str | None:
    """Why a source's default ``region`` names no administrative division, or None when it
    does (``review_ui.places.parser``; no Django)."""
    from review_ui.places.parser import parse_region

    if parse_region(region).empty:
        return (f"{region!r} names no province, city or district (write it as the divisions "
                "do, e.g. 湖南省长沙市 or 长沙市天心区, or a 6-digit division code)")
    return None


class StoreNotReady(RuntimeError):
    """The database cannot be reached or is not migrated."""


class StoreUnavailable(RuntimeError):
    """The database failed while storing (it went away, or refused the transaction):
    nothing of the call was stored. ``cause`` names the database's error."""

    def __init__(self, message: str, cause: str = "DatabaseError") -> None:
        super().__init__(message, cause)
        self.cause = cause

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class IngestResult:
    """What storing one crawled ad did."""

    ad_id: int
    outcome: str  # "new", "updated" or "unchanged"
    flagged: bool
    queued: bool  # a review item was created by this call
    group_id: int | None = None  # the group of copies the ad belongs to, if any
    copy_of_queued: bool = False  # flagged, but its group already has a review item
    changed: bool = False  # the text changed: the earlier one was kept as a version
    reappeared: bool = False  # an ad recorded as taken down is back


def _database_errors(method: Callable[..., Result]) -> Callable[..., Result]:
    """Raise a database error of ``method`` as :class:`StoreUnavailable`."""

    @wraps(method)
    def call(self: Store, *args: Any, **kwargs: Any) -> Result:
        from django.db import DatabaseError

        try:
            return method(self, *args, **kwargs)
        except DatabaseError as exc:
            raise StoreUnavailable(str(exc) or type(exc).__name__, type(exc).__name__) from exc

    return call


class Store:
    """The crawler's door to the store (see the module's docstring)."""

    def __init__(self) -> None:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "review_ui.settings")
        import django
        from django.apps import apps

        if not apps.ready:
            django.setup()

    # --- the database ----------------------------------------------------------------------------
    def check(self) -> None:
        """Fail early with :class:`StoreNotReady`, with a clear message, when the store cannot
        take ads: a server that cannot be reached is told apart from a database that is not
        migrated."""
        from review_ui.store import connections

        connections.check()

    def warm_up(self) -> None:
        """Load now what storing the first ads would load on first use: the place parser's
        division tables (jionlp's, about 2 CPU s) and the near-duplicate signatures. The crawl's
        pipeline worker does it while the crawl fetches its first pages."""
        from review_ui.duplicates import band_keys, fold, shingles
        from review_ui.store.places import place_fields

        place_fields("长沙市天心区", "", "", "湖南省长沙市")
        band_keys(shingles(fold("", "warm up")))

    def close(self) -> None:
        """Close this thread's database connection (the next call opens a new one)."""
        from review_ui.store import connections

        connections.close()

    def before_fork(self) -> None:
        """Close this thread's idle connections before the process forks."""
        from review_ui.store import connections

        connections.close_idle()

    def in_forked_child(self) -> None:
        """In a child just forked: open new connections here, leaving the parent's alone."""
        from review_ui.store import connections

        connections.forget_inherited()

    # --- ads -------------------------------------------------------------------------------------
    @_database_errors
    def ingest(self, items: list[dict[str, Any]], run_id: int | None = None) -> list[IngestResult]:
        """Store crawled ads in one transaction; their results in the same order."""
        from review_ui.store.ingest import ingest

        return ingest(items, run_id)

    @_database_errors
    def record_takedown(self, url: str, how: str, run_id: int | None = None) -> bool:
        """Record that the stored ad at ``url`` is gone from its site (``how``: one of
        :data:`TAKEDOWNS`); False when no such ad is stored or it was recorded already."""
        from review_ui.store.rechecks import record_takedown

        return record_takedown(url, how, run_id)

    @_database_errors
    def current_model_path(self) -> str | None:
        """The promoted model version's file (checked against the hash it was registered with),
        or None when none is promoted and the shipped model is current."""
        from review_ui.model_registry import current_model_path

        return current_model_path()

    @_database_errors
    def search_terms(self) -> list[str]:
        """The search terms supervisors added in the admin and did not switch off
        (``review_ui.search_terms``), for sources that search a site with the defaults."""
        from review_ui.search_terms import active_terms

        return active_terms()

    def stored_urls(self, source: str, refetch_after: timedelta,
                    config_hash: str = "") -> dict[str, bool]:
        """Every stored ad of ``source`` by URL, and whether it is due to be fetched again (also
        when it was extracted with another config than ``config_hash``)."""
        from review_ui.store.rechecks import stored_urls

        return stored_urls(source, refetch_after, config_hash=config_hash)

    def due_rechecks(self, source: str, recheck_after: timedelta) -> list[str]:
        """URLs of ``source``'s ads due for a re-check, the longest unchecked first."""
        from review_ui.store.rechecks import due_rechecks

        return due_rechecks(source, recheck_after)

    # --- screenshots ----------------------------------------------------------------------------
    def start_capture_worker(self, rate: float, timeout: float, networks: str, *,
                             held: bool = False) -> Any:
        """Start ``tutorwatch capture --with-crawl`` in a process of its own (its own process
        group, at the lowest CPU priority, its output appended to
        ``<data dir>/logs/capture.log``) and return its ``Popen``: close its standard input
        when the crawl is over, and it catches up and exits. ``networks`` is the crawl's
        ``TUTORWATCH_ALLOW_NETWORKS``. ``held``: a small launcher holds the worker back until
        its standard input is closed, and only then becomes it (the same process): Python,
        Django and the browser start after the crawl, not beside its last moments."""
        import subprocess
        import sys

        from review_ui.env import data_dir

        logs = data_dir() / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "TUTORWATCH_ALLOW_NETWORKS": networks}
        command = [sys.executable, "-m", "review_ui.cli", "capture", "--with-crawl",
                   "--rate", str(rate), "--timeout", str(timeout)]
        if held:
            command = [sys.executable, "-I", "-S", "-c", CAPTURE_HOLD, *command]
        with open(logs / "capture.log", "ab") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE, stdout=log, stderr=log, env=env,
                # Its own process group, so Ctrl-C at the crawl leaves it to catch up; the
                # crawl's session all the same, since with the kernel's autogroups a new
                # session would be scheduled as a peer of the crawl whatever its niceness.
                process_group=0,
            )
        # The lowest priority from its first instruction (its start-up costs more than a few
        # captures): the crawl's processes always come first, and it catches up when they end.
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, process.pid, CAPTURE_NICENESS)
        return process

    # --- crawl runs ------------------------------------------------------------------------------
    def start_run(self, config: dict[str, Any], path: str | None = None, *,
                  purpose: str = "crawl", trigger: str = "manual",
                  exclusive: bool = True) -> int:
        """Record the start of a crawl by this process; its run's id (``review_ui.runs``)."""
        from review_ui import runs

        return runs.start_run(config, path, purpose=purpose, trigger=trigger,
                              exclusive=exclusive)

    def join_run(self, run_id: int) -> bool:
        """Add this process to a running run; False if it is not running."""
        from review_ui import runs

        return runs.join_run(run_id)

    def run_is_running(self, run_id: int) -> bool:
        from review_ui import runs

        return runs.run_is_running(run_id)

    def beat(self, run_id: int) -> None:
        """A sign of life from a crawl process."""
        from review_ui import runs

        runs.beat(run_id)

    def finish_run(self, run_id: int, stats: dict[str, Any], reason: str, *,
                   worker_id: str | None = None, last: bool = True) -> str:
        """Record how a crawl (or one worker of a shared one) ended; the run's status."""
        from review_ui import runs

        return runs.finish_run(run_id, stats, reason, worker_id=worker_id, last=last).status

    def mark_dead_runs(self) -> int:
        """Mark running runs whose processes are gone as interrupted; how many were."""
        from review_ui import runs

        return len(runs.mark_dead_runs())
