"""Takedowns, and the plans of incremental crawls and re-checks.

:func:`record_takedown` records that a stored ad is gone from its site (its content stays, as
evidence); :func:`stored_urls` tells an incremental crawl which stored ads are due to be fetched
again, and :func:`due_rechecks` which flagged ones a re-check crawl fetches.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from review_ui.models import Ad, AuditEvent, CrawlRun, ReviewItem
from review_ui.store import TAKEDOWNS


def record_takedown(url: str, how: str, run_id: int | None = None,
                    when: datetime | None = None) -> bool:
    """Record that the stored ad at ``url`` is gone from its site (``how``: ``http_404``,
    ``http_410``, or ``gone`` for a page that no longer shows the post). Its content stays as
    it was, as evidence. Returns False when no such ad is stored or it was already recorded."""
    if how not in TAKEDOWNS:
        raise ValueError(f"unknown takedown {how!r} (one of: {', '.join(TAKEDOWNS)})")
    when = when or timezone.now()
    with transaction.atomic():
        ad = Ad.objects.select_for_update().filter(url=url).first()
        if ad is None:
            return False
        ad.checked_at = when
        if ad.removed_at is not None:
            ad.save(update_fields=["checked_at"])
            return False
        ad.removed_at, ad.removal = when, how
        ad.save(update_fields=["checked_at", "removed_at", "removal"])
        AuditEvent.record(None, "ad.removed", ad=ad, detail={"run": run_id, "how": how})
    return True


def is_recheck_run(run_id: int | None) -> bool:
    """Whether ``run_id`` is a re-check crawl's run (its flagged ads still up are captured
    again, ``review_ui.store.screenshots``)."""
    return bool(run_id) and CrawlRun.objects.filter(pk=run_id, kind=CrawlRun.Kind.RECHECK).exists()


def stored_urls(source: str, refetch_after: timedelta, now: datetime | None = None,
                config_hash: str = "") -> dict[str, bool]:
    """Every stored ad of ``source`` by URL, and whether it is due to be fetched again: checked
    ``refetch_after`` ago or longer, recorded as taken down (so that a post that shows up on
    a list page again is fetched, and its return recorded), or extracted with a config whose
    hash (``crawler.config_hash``) is not ``config_hash`` (so that a fixed selector reaches the
    stored ads at the next crawl; an ad stored without a hash is not due for that)."""
    now = now or timezone.now()
    rows = (
        Ad.objects.filter(source__name=source)
        .annotate(last=Coalesce("checked_at", "fetched_at"))
        .values_list("url", "last", "removed_at", "config_hash")
    )
    cutoff = now - refetch_after
    return {
        url: removed is not None or last <= cutoff
        or bool(config_hash and stored_hash and stored_hash != config_hash)
        for url, last, removed, stored_hash in rows.iterator()
    }


def recheck_scope() -> Q:
    """Ads that are re-checked on their own schedule: flagged ones still pending review, and
    confirmed or escalated ones; never those recorded as taken down."""
    return Q(removed_at__isnull=True) & (
        Q(review_item__status__in=[
            ReviewItem.Status.PENDING, ReviewItem.Status.CONFIRMED, ReviewItem.Status.ESCALATED,
        ])
    )


def due_rechecks(source: str, recheck_after: timedelta, now: datetime | None = None,
                 limit: int | None = None) -> list[str]:
    """URLs of ``source``'s ads in the re-check scope that were last checked at least
    ``recheck_after`` ago, the longest unchecked first."""
    now = now or timezone.now()
    query = (
        Ad.objects.filter(recheck_scope(), source__name=source)
        .annotate(last=Coalesce("checked_at", "fetched_at"))
        .filter(last__lte=now - recheck_after)
        .order_by("last", "pk")
        .values_list("url", flat=True)
    )
    return list(query[:limit] if limit else query)
