"""Judging a crawl run that ended: its status from the crawl's reason, its health checks
(``crawler.monitors``) against the source's recent runs, and the alert of a failed run
(``review_ui.alerts``).

Settings: ``TUTORWATCH_MONITOR_*`` (health check limits).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings

from crawler.monitors import CAPPED_REASONS, Thresholds, check_crawl, items_found
from review_ui.models import CrawlRun

logger = logging.getLogger("tutorwatch.runs")

_STATUS_RANK = {
    CrawlRun.Status.RUNNING: 0, CrawlRun.Status.FINISHED: 1,
    CrawlRun.Status.INTERRUPTED: 2, CrawlRun.Status.FAILED: 3,
}


def thresholds() -> Thresholds:
    return Thresholds(
        max_parse_failure_share=settings.TUTORWATCH_MONITOR_MAX_PARSE_FAILURES,
        min_items_ratio=settings.TUTORWATCH_MONITOR_MIN_ITEMS_RATIO,
        history=settings.TUTORWATCH_MONITOR_HISTORY,
        min_history=min(settings.TUTORWATCH_MONITOR_MIN_HISTORY,
                        settings.TUTORWATCH_MONITOR_HISTORY),
    )


def status_for(reason: str) -> str:
    """The status a crawl's close reason gives its run: a crawl stopped by a CLOSESPIDER_* cap
    (``-s CLOSESPIDER_ITEMCOUNT=5``) finished as it was asked to."""
    if reason == "finished" or reason in CAPPED_REASONS:
        return CrawlRun.Status.FINISHED
    if reason in ("shutdown", "cancelled"):
        return CrawlRun.Status.INTERRUPTED
    return CrawlRun.Status.FAILED


def worse(status: str, other: str) -> str:
    """The worse of two statuses (a worker ending after the run was finalised)."""
    return other if _STATUS_RANK[CrawlRun.Status(other)] > _STATUS_RANK[
        CrawlRun.Status(status)] else status


def check_health(run: CrawlRun, stats: dict[str, Any]) -> str:
    """Run the health checks of a run that finished, against the source's recent finished runs
    of the same purpose; record the failures on ``run.health`` (not saved) and log them.
    Returns the run's status: failed when a check failed."""
    limits = thresholds()
    recent = (
        CrawlRun.objects.filter(source=run.source, kind=run.kind, status=CrawlRun.Status.FINISHED)
        .exclude(pk=run.pk).exclude(finish_reason__in=CAPPED_REASONS)
        .order_by("-started_at")[: limits.history]
    )
    failures = check_crawl(
        stats, [items_found(r.stats) or r.items + r.skipped for r in recent],
        limits, recheck=run.kind == CrawlRun.Kind.RECHECK,
        capped=run.finish_reason in CAPPED_REASONS,
    )
    run.health = [f.as_dict() for f in failures]
    for failure in failures:
        logger.error("crawl run %s of %s failed a health check: %s",
                     run.pk, run.source.name, failure.message())
    return CrawlRun.Status.FAILED if failures else CrawlRun.Status.FINISHED


def alert(run: CrawlRun) -> None:
    """Send the alerts of a failed or interrupted run, and record where they went."""
    from review_ui.alerts import send_run_alert

    run.alerts = send_run_alert(run)
    run.save(update_fields=["alerts"])
