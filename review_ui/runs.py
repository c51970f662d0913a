"""Crawl runs: started, joined by other workers, kept alive, finished, and found dead.

Every crawl records one :class:`~review_ui.models.CrawlRun`, whether it was started by hand or by
the scheduler (the crawl's run recorder, ``crawler.extensions.runs``, calls these through
``review_ui.store``). Each process taking part is listed in ``run.workers`` (host, pid) and keeps
``run.heartbeat_at`` fresh, so a run whose processes were killed is marked interrupted by
:func:`mark_dead_runs` (the scheduler calls it at start and after each crawl process ends).

When the last worker finishes, :func:`finish_run` records the run's figures
(``review_ui.run_summary``) and judges it (``review_ui.run_health``: health checks, status; a
failed run raises an alert).

Settings: ``TUTORWATCH_RUN_STALE_MINUTES`` (how long a run may go without a sign of life before
it counts as dead).
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from crawler.processes import HOST, pid_alive
from review_ui import run_health, run_summary
from review_ui.models import CrawlRun
from review_ui.store.sources import source_row

logger = logging.getLogger("tutorwatch.runs")

__all__ = ["HOST", "SourceBusy", "beat", "finish_run", "is_alive", "join_run", "mark_dead_runs",
           "pid_alive", "run_is_running", "running_run", "start_run", "this_worker"]


class SourceBusy(RuntimeError):
    """A crawl of this source is already running (``run`` is it)."""

    def __init__(self, run: CrawlRun) -> None:
        self.run = run
        workers = ", ".join(w.get("id", "?") for w in run.workers) or f"{run.host}:{run.pid}"
        super().__init__(
            f"a crawl of {run.source.name!r} is already running (run {run.pk}, started "
            f"{timezone.localtime(run.started_at):%Y-%m-%d %H:%M:%S}, by {workers})"
        )


def this_worker() -> dict[str, Any]:
    """This process as a worker entry: ``{"id": "host:pid", "host", "pid"}``."""
    pid = os.getpid()
    return {"id": f"{HOST}:{pid}", "host": HOST, "pid": pid}


def stale_after() -> timedelta:
    return timedelta(minutes=settings.TUTORWATCH_RUN_STALE_MINUTES)


def is_alive(run: CrawlRun, now: datetime | None = None) -> bool:
    """A running run is alive while one of its unfinished workers shows a recent sign of life
    and, for a worker on this host, its process still exists."""
    now = now or timezone.now()
    beat = run.heartbeat_at or run.started_at
    fresh = now - beat < stale_after()
    workers = [w for w in run.workers if not w.get("finished_at")]
    if not workers and not run.workers and run.pid:
        workers = [{"host": run.host, "pid": run.pid}]
    for worker in workers:
        if worker.get("host") == HOST:
            if fresh and pid_alive(worker.get("pid")):
                return True
        elif fresh:
            return True
    return False


def running_run(source: str) -> CrawlRun | None:
    """The run of ``source`` that is running now and alive, if any."""
    for run in CrawlRun.objects.filter(source__name=source, status=CrawlRun.Status.RUNNING):
        if is_alive(run):
            return run
    return None


def start_run(config: dict[str, Any], path: str | None = None, *,
              purpose: str = CrawlRun.Kind.CRAWL,
              trigger: str = CrawlRun.Trigger.MANUAL, worker: dict[str, Any] | None = None,
              exclusive: bool = True) -> int:
    """Record the start of a crawl of one source by this process; returns the run's id.

    With ``exclusive`` (the default), raise :class:`SourceBusy` when a live crawl of the source
    is running; runs of the source whose processes died are marked interrupted first.
    """
    worker = worker or this_worker()
    now = timezone.now()
    with transaction.atomic():
        source = source_row(config["name"], config, path or "")
        # Lock the source row: two processes starting at once are serialised here.
        type(source).objects.select_for_update().filter(pk=source.pk).first()
        for run in CrawlRun.objects.filter(source=source, status=CrawlRun.Status.RUNNING):
            if not is_alive(run, now):
                _interrupt(run, now)
            elif exclusive:
                raise SourceBusy(run)
        run = CrawlRun.objects.create(
            source=source, kind=purpose, trigger=trigger, host=worker["host"], pid=worker["pid"],
            heartbeat_at=now, started_at=now,
            workers=[{**worker, "joined_at": now.isoformat()}],
        )
    return run.pk


def join_run(run_id: int, worker: dict[str, Any] | None = None) -> bool:
    """Add this process to a running run (a shared crawl); False if it is not running."""
    worker = worker or this_worker()
    now = timezone.now()
    with transaction.atomic():
        run = CrawlRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status != CrawlRun.Status.RUNNING:
            return False
        if not any(w.get("id") == worker["id"] for w in run.workers):
            run.workers = [*run.workers, {**worker, "joined_at": now.isoformat()}]
        run.heartbeat_at = now
        run.save(update_fields=["workers", "heartbeat_at"])
    return True


def run_is_running(run_id: int) -> bool:
    return CrawlRun.objects.filter(pk=run_id, status=CrawlRun.Status.RUNNING).exists()


def beat(run_id: int) -> None:
    """A sign of life from a crawl process."""
    CrawlRun.objects.filter(pk=run_id).update(heartbeat_at=timezone.now())


def _interrupt(run: CrawlRun, now: datetime) -> None:
    beat = run.heartbeat_at or run.started_at
    died = any(w.get("host") == HOST for w in run.workers) or run.host == HOST
    run.status = CrawlRun.Status.INTERRUPTED
    run.finish_reason = "process died" if died else "no sign of life"
    run.finished_at = max(beat, run.started_at)
    run.save(update_fields=["status", "finish_reason", "finished_at"])
    logger.warning("crawl run %s of %s was interrupted: %s (last sign of life %s)",
                   run.pk, run.source.name, run.finish_reason, beat.isoformat())


def mark_dead_runs(now: datetime | None = None, alert: bool = True) -> list[CrawlRun]:
    """Mark running runs whose processes are gone as interrupted, and alert about them."""
    now = now or timezone.now()
    dead = []
    for run in CrawlRun.objects.filter(status=CrawlRun.Status.RUNNING).select_related("source"):
        with transaction.atomic():
            locked = CrawlRun.objects.select_for_update().filter(
                pk=run.pk, status=CrawlRun.Status.RUNNING
            ).select_related("source").first()
            if locked is None or is_alive(locked, now):
                continue
            _interrupt(locked, now)
        dead.append(locked)
    if alert:
        for run in dead:
            run_health.alert(run)
    return dead


def finish_run(run_id: int, stats: dict[str, Any], reason: str, worker_id: str | None = None,
               last: bool = True) -> CrawlRun:
    """Record how a crawl (or one worker of a shared crawl) ended, with its Scrapy stats.

    A worker of a shared crawl passes its ``worker_id`` and whether it was the ``last`` one; its
    stats are kept on its worker entry, and the last worker's call merges them all. The health
    checks run once, when the run is finalised; a failed run raises an alert.
    """
    stats = run_summary.jsonable(stats)
    now = timezone.now()
    with transaction.atomic():
        run = CrawlRun.objects.select_for_update().select_related("source").get(pk=run_id)
        first_final = run.status == CrawlRun.Status.RUNNING
        _record_worker_end(run, worker_id, stats, reason, now)
        if first_final and not last:
            run.save(update_fields=["workers", "heartbeat_at"])
            return run
        merged, final_reason = run_summary.whole_run(run.workers, stats, reason,
                                                     shared=bool(worker_id))
        run_summary.record_figures(run, merged, final_reason)
        status = run_health.status_for(final_reason)
        if first_final:
            run.finished_at = now
            if status == CrawlRun.Status.FINISHED:
                status = run_health.check_health(run, merged)
            run.status = status
        else:
            run.status = run_health.worse(run.status, status)
        run.save()
    if first_final and run.status == CrawlRun.Status.FAILED:
        run_health.alert(run)
    return run


def _record_worker_end(run: CrawlRun, worker_id: str | None, stats: dict[str, Any],
                       reason: str, now: datetime) -> None:
    """Mark this process's worker entry finished (with its stats, in a shared crawl)."""
    own_id = worker_id or this_worker()["id"]
    workers = [dict(w) for w in run.workers]
    for entry in workers:
        if entry.get("id") == own_id:
            entry.update(finished_at=now.isoformat(), reason=reason)
            if worker_id:
                entry["stats"] = stats
    run.workers = workers
    run.heartbeat_at = now
