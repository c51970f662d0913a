"""What a crawl run's page shows about its failures: failed pages by reason (each URL once, the
count the crawl summary and the alert give), up to five failing URLs per reason, and how often
each selector of the config matched (``crawler.monitors``)."""

from __future__ import annotations

from typing import Any

from crawler.monitors import (
    MIN_SELECTOR_SHARE,
    failed_by_reason,
    failed_urls,
    reasons_text,
    selector_hits,
)
from review_ui.alerts import selector_hit_text
from review_ui.models import CrawlRun


def run_failure_context(run: CrawlRun) -> dict[str, Any]:
    stats = run.stats or {}
    counts = failed_by_reason(stats)  # each URL once, as the summary and the alert count
    hits = [
        {
            "key": key,
            "matched": matched,
            "pages": pages,
            "weak": bool(pages) and matched / pages < MIN_SELECTOR_SHARE,
            "text": selector_hit_text({"key": key, "matched": matched, "pages": pages}),
        }
        for key, (matched, pages) in selector_hits(stats).items()
    ]
    return {
        "failed_pages": f"{sum(counts.values())} ({reasons_text(counts)})" if counts else "0",
        "failed_urls": failed_urls(stats),
        "selector_hits": hits,
    }
