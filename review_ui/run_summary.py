"""A crawl run's figures, from its Scrapy stats: what :func:`review_ui.runs.finish_run` records
on the run when the crawl (or the last worker of a shared one) ends.

A shared crawl's workers each keep their own stats on their worker entry; the run's figures
are those of all of them merged (``crawler.monitors.merge_stats``), and its reason the first
that is not ``finished``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from crawler.monitors import SKIPPED_KEY, errors_by_cause, errors_logged, merge_stats
from review_ui.models import CrawlRun


def jsonable(value: Any) -> Any:
    """Stats as JSON can hold them (dates as ISO strings, anything else unknown as text)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def whole_run(workers: list[dict[str, Any]], stats: dict[str, Any], reason: str,
              shared: bool) -> tuple[dict[str, Any], str]:
    """The stats and the reason of the whole run: this process's own, or with ``shared``
    those of every worker of the shared crawl that recorded its end."""
    if shared:
        parts = [w["stats"] for w in workers if w.get("stats")] or [stats]
        reasons = [w["reason"] for w in workers if w.get("reason")] or [reason]
        merged = merge_stats(parts)
    else:
        merged, reasons = stats, [reason]
    return merged, next((r for r in reasons if r != "finished"), "finished")


def record_figures(run: CrawlRun, stats: dict[str, Any], reason: str) -> None:
    """Set the run's reason, counts and stats (not saved)."""
    run.finish_reason = reason[:100]
    run.pages = int(stats.get("response_received_count", 0))
    run.items = int(stats.get("item_scraped_count", 0))
    run.new_ads = int(stats.get("tutorwatch/items/stored/new", 0))
    run.flagged = int(stats.get("tutorwatch/items/flagged", 0))
    run.errors = errors_logged(stats)
    run.skipped = int(stats.get(SKIPPED_KEY, 0))
    run.changed = int(stats.get("tutorwatch/items/changed", 0))
    run.removed = int(stats.get("tutorwatch/items/removed", 0))
    run.error_kinds = errors_by_cause(stats)
    run.stats = stats
