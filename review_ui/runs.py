"""Crawl runs: started, joined by other workers, kept alive, finished with health checks, and
found dead.

Every crawl records one :class:`~review_ui.models.CrawlRun`, whether it was started by hand or by
the scheduler. Each process taking part is listed in ``run.workers`` (host, pid) and keeps
``run.heartbeat_at`` fresh, so a run whose processes were killed is marked interrupted by
:func:`mark_dead_runs` (the scheduler calls it at start and after each crawl process ends).

When the last worker finishes, :func:`finish_run` checks the crawl's health
(``crawler.monitors``); a failed run raises an alert (``review_ui.alerts``).

Settings: ``TUTORWATCH_MONITOR_*`` (health check limits), ``TUTORWATCH_RUN_STALE_MINUTES`` (how
long a run may go without a sign of life before it counts as dead).
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from crawler.monitors import (
    SKIPPED_KEY,
    Thresholds,
    check_crawl,
    error_kinds,
    errors_logged,
    items_found,
    merge_stats,
)
from review_ui.models import CrawlRun
from review_ui.store.sources import source_row

logger = logging.getLogger("tutorwatch.runs")

HOST = socket.gethostname()
_STATUS_RANK = {
    CrawlRun.Status.RUNNING: 0, CrawlRun.Status.FINISHED: 1,
    CrawlRun.Status.INTERRUPTED: 2, CrawlRun.Status.FAILED: 3,
}


class SourceBusy(RuntimeError):
    """A crawl of this source is already running (``run`` is it)."""

    def __init__(self, run: CrawlRun) -> None:
        self.run = run
        workers = ", ".join(w.get("id", "?") for w in run.workers) or f"{run.host}:{run.pid}"
        super().__init__(
            f"a crawl of {run.source.name!r} is already running (run {run.pk}, started "
            f"{timezone.localtime(run.started_at):%Y-%m-%d %H:%M:%S}, by {workers})"
        )


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def this_worker() -> dict[str, Any]:
    """This process as a worker entry: ``{"id": "host:pid", "host", "pid"}``."""
    pid = os.getpid()
    return {"id": f"{HOST}:{pid}", "host": HOST, "pid": pid}


def stale_after() -> timedelta:
    return timedelta(minutes=settings.TUTORWATCH_RUN_STALE_MINUTES)


def thresholds() -> Thresholds:
    return Thresholds(
        max_parse_failure_share=settings.TUTORWATCH_MONITOR_MAX_PARSE_FAILURES,
        min_items_ratio=settings.TUTORWATCH_MONITOR_MIN_ITEMS_RATIO,
        history=settings.TUTORWATCH_MONITOR_HISTORY,
        min_history=min(settings.TUTORWATCH_MONITOR_MIN_HISTORY,
                        settings.TUTORWATCH_MONITOR_HISTORY),
    )


def pid_alive(pid: int | None) -> bool:
    """Whether a process of this host with this id runs (a zombie does not count)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


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


def start_run(config: dict[str, Any], path: str | None = None, *, kind: str = CrawlRun.Kind.CRAWL,
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
            source=source, kind=kind, trigger=trigger, host=worker["host"], pid=worker["pid"],
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
        from review_ui.alerts import send_run_alert

        for run in dead:
            run.alerts = send_run_alert(run)
            run.save(update_fields=["alerts"])
    return dead


def _status_for(reason: str) -> str:
    if reason == "finished":
        return CrawlRun.Status.FINISHED
    if reason in ("shutdown", "cancelled"):
        return CrawlRun.Status.INTERRUPTED
    return CrawlRun.Status.FAILED


def finish_run(run_id: int, stats: dict[str, Any], reason: str, worker_id: str | None = None,
               last: bool = True) -> CrawlRun:
    """Record how a crawl (or one worker of a shared crawl) ended, with its Scrapy stats.

    A worker of a shared crawl passes its ``worker_id`` and whether it was the ``last`` one; its
    stats are kept on its worker entry, and the last worker's call merges them all. The health
    checks run once, when the run is finalised; a failed run raises an alert.
    """
    stats = _jsonable(stats)
    now = timezone.now()
    with transaction.atomic():
        run = CrawlRun.objects.select_for_update().select_related("source").get(pk=run_id)
        first_final = run.status == CrawlRun.Status.RUNNING
        own_id = worker_id or this_worker()["id"]
        workers = [dict(w) for w in run.workers]
        for entry in workers:
            if entry.get("id") == own_id:
                entry.update(finished_at=now.isoformat(), reason=reason)
                if worker_id:
                    entry["stats"] = stats
        run.workers = workers
        run.heartbeat_at = now
        if first_final and not last:
            run.save(update_fields=["workers", "heartbeat_at"])
            return run

        if worker_id:
            parts = [w["stats"] for w in workers if w.get("stats")] or [stats]
            reasons = [w["reason"] for w in workers if w.get("reason")] or [reason]
            merged = merge_stats(parts)
        else:
            merged, reasons = stats, [reason]
        final_reason = next((r for r in reasons if r != "finished"), "finished")

        run.finish_reason = final_reason[:100]
        run.pages = int(merged.get("response_received_count", 0))
        run.items = int(merged.get("item_scraped_count", 0))
        run.new_ads = int(merged.get("tutorwatch/items/stored/new", 0))
        run.flagged = int(merged.get("tutorwatch/items/flagged", 0))
        run.errors = errors_logged(merged)
        run.skipped = int(merged.get(SKIPPED_KEY, 0))
        run.changed = int(merged.get("tutorwatch/items/changed", 0))
        run.removed = int(merged.get("tutorwatch/items/removed", 0))
        run.error_kinds = error_kinds(merged)
        run.stats = merged
        status = _status_for(final_reason)
        if first_final:
            run.finished_at = now
            if status == CrawlRun.Status.FINISHED:
                limits = thresholds()
                recent = (
                    CrawlRun.objects.filter(source=run.source, kind=run.kind,
                                            status=CrawlRun.Status.FINISHED)
                    .exclude(pk=run.pk).order_by("-started_at")[: limits.history]
                )
                failures = check_crawl(
                    merged, [items_found(r.stats) or r.items + r.skipped for r in recent],
                    limits, recheck=run.kind == CrawlRun.Kind.RECHECK,
                )
                run.health = [f.as_dict() for f in failures]
                for failure in failures:
                    logger.error("crawl run %s of %s failed a health check: %s",
                                 run.pk, run.source.name, failure.message())
                if failures:
                    status = CrawlRun.Status.FAILED
            run.status = status
        elif _STATUS_RANK[status] > _STATUS_RANK[CrawlRun.Status(run.status)]:
            run.status = status
        run.save()

    if first_final and run.status == CrawlRun.Status.FAILED:
        from review_ui.alerts import send_run_alert

        run.alerts = send_run_alert(run)
        run.save(update_fields=["alerts"])
    return run
