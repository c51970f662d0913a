"""Backing off a source whose site is blocking us (issue 18 point 5).

A crawl that met a challenge ends as ``blocked`` (``crawler.middlewares.blocks``). The next
scheduled crawl of that source is not started until the site has had a rest: after ``n`` blocked
runs in a row, ``first_hours × 2^(n-1)`` hours from the end of the latest, at most
``max_hours`` (the source's ``backoff`` key; 1 and 24 by default). The first crawl that is not
blocked ends the back-off. A manual ``tutorwatch crawl`` is never held back: an operator who
starts one has decided to.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from crawler.config import SourceConfig
from crawler.monitors import is_blocked
from review_ui.models import CrawlRun

RUNS_LOOKED_AT = 12  # 2^11 hours is far past any max_hours: older runs cannot change the wait


def backoff_wait(blocked_in_a_row: int, first_hours: float, max_hours: float) -> timedelta:
    """How long a source rests after ``blocked_in_a_row`` blocked runs (0: not at all)."""
    if blocked_in_a_row <= 0:
        return timedelta(0)
    hours = first_hours * 2 ** min(blocked_in_a_row - 1, 30)
    return timedelta(hours=min(hours, max_hours))


def blocked_in_a_row(source: str) -> tuple[int, datetime | None]:
    """(blocked runs of ``source`` since its last run that was not, when the latest ended)."""
    runs = (CrawlRun.objects.filter(source__name=source)
            .exclude(status=CrawlRun.Status.RUNNING)
            .order_by("-started_at")[:RUNS_LOOKED_AT])
    count, latest = 0, None
    for run in runs:
        if not is_blocked(run.finish_reason, run.stats or {}):
            break
        count += 1
        latest = latest or run.finished_at or run.started_at
    return count, latest


def resting_until(config: SourceConfig) -> datetime | None:
    """When ``config``'s source may be crawled again, or None when it is not backing off."""
    count, latest = blocked_in_a_row(config.name)
    if not count or latest is None:
        return None
    first, most = config.backoff
    return latest + backoff_wait(count, first, most)
