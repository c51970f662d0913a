"""Figures for the supervisors' dashboard: flagged and confirmed per week, per source and per
form; the confirm rate (the model's precision as officers find it); queue size and age; the
precision and recall estimates per source and month (``review_ui.estimates``).

Plain functions over the store; the view only renders them. Bars are laid out here as SVG
coordinates so the page draws its charts without any script.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Min, Q
from django.db.models.functions import TruncWeek
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from review_ui import estimates
from review_ui.models import ReviewItem, claim_ttl
from review_ui.reasons import CATEGORY_LABELS

S = ReviewItem.Status
VIOLATION = Q(status__in=[S.CONFIRMED, S.ESCALATED])
CHART_HEIGHT = 120
BAR_WIDTH = 14
ESTIMATE_MONTHS = 12  # months shown per source in the estimates table


@dataclass
class Row:
    key: str
    label: str
    flagged: int = 0
    confirmed: int = 0
    dismissed: int = 0
    pending: int = 0
    width_flagged: float = 0.0
    width_confirmed: float = 0.0

    @property
    def decided(self) -> int:
        return self.confirmed + self.dismissed

    @property
    def confirm_rate(self) -> float | None:
        return self.confirmed / self.decided if self.decided else None


@dataclass
class Week:
    start: datetime
    flagged: int = 0
    confirmed: int = 0
    dismissed: int = 0
    x: int = 0
    y_flagged: float = 0.0
    h_flagged: float = 0.0
    y_confirmed: float = 0.0
    h_confirmed: float = 0.0


@dataclass
class Dashboard:
    weeks: list[Week]
    sources: list[Row]
    categories: list[Row]
    total: Row
    pending: int
    claimed: int
    oldest_pending: datetime | None
    age_buckets: list[tuple[Any, int]]
    chart_width: int
    chart_height: int = CHART_HEIGHT
    max_week: int = 0
    estimates: estimates.Estimates | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def week_start(moment: datetime) -> datetime:
    local = timezone.localtime(moment)
    monday = (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0,
                                                                microsecond=0)
    return monday


def _weekly(weeks: int, now: datetime) -> list[Week]:
    first = week_start(now) - timedelta(weeks=weeks - 1)
    rows = {week_start(first + timedelta(weeks=i)).date(): Week(first + timedelta(weeks=i))
            for i in range(weeks)}
    zone = timezone.get_current_timezone()

    def count(queryset: Any, date_field: str, attr: str) -> None:
        for entry in (queryset.filter(**{f"{date_field}__gte": first})
                      .annotate(week=TruncWeek(date_field, tzinfo=zone))
                      .values("week").annotate(n=Count("id")).order_by()):
            week = rows.get(timezone.localtime(entry["week"]).date()
                            if timezone.is_aware(entry["week"]) else entry["week"].date())
            if week is not None:
                setattr(week, attr, getattr(week, attr) + entry["n"])

    count(ReviewItem.objects.all(), "created_at", "flagged")
    count(ReviewItem.objects.filter(VIOLATION), "decided_at", "confirmed")
    count(ReviewItem.objects.filter(status=S.DISMISSED), "decided_at", "dismissed")
    return [rows[key] for key in sorted(rows)]


def _grouped(key: str, labels: dict[str, str] | None = None) -> list[Row]:
    out = []
    for entry in (ReviewItem.objects.values(key).annotate(
            flagged=Count("id"), confirmed=Count("id", filter=VIOLATION),
            dismissed=Count("id", filter=Q(status=S.DISMISSED)),
            pending=Count("id", filter=Q(status=S.PENDING))).order_by()):
        name = entry[key] or ""
        out.append(Row(name, str((labels or {}).get(name, name or "—")), entry["flagged"],
                       entry["confirmed"], entry["dismissed"], entry["pending"]))
    out.sort(key=lambda row: (-row.flagged, row.key))
    biggest = max((row.flagged for row in out), default=0) or 1
    for row in out:
        row.width_flagged = round(100 * row.flagged / biggest, 1)
        row.width_confirmed = round(100 * row.confirmed / biggest, 1)
    return out


CACHE_KEY = "review_ui:dashboard"
_building = threading.Lock()
KEEP_SECONDS = 24 * 3600  # stale figures are shown while newer ones are built


def recent() -> Dashboard:
    """:func:`build`, at most ``TUTORWATCH_DASHBOARD_SECONDS`` (60) old, from the cache, as the
    queue's tab counts are: at a million ads the figures read every review item and every ad
    (seconds, where the page has 50 ms). When they are older, one request per process rebuilds
    them while the others are shown the previous figures; only the first build is waited for."""
    fresh_for = settings.TUTORWATCH_DASHBOARD_SECONDS
    kept = cache.get(CACHE_KEY)
    if kept is not None and time.time() - kept[1] < fresh_for:
        return kept[0]
    if not _building.acquire(blocking=kept is None):
        return kept[0]  # another request is rebuilding them
    try:
        again = cache.get(CACHE_KEY)
        if again is not None and time.time() - again[1] < fresh_for:
            return again[0]
        figures = build()
        cache.set(CACHE_KEY, (figures, time.time()), KEEP_SECONDS)
        return figures
    finally:
        _building.release()


def build(weeks: int = 12, now: datetime | None = None) -> Dashboard:
    now = now or timezone.now()
    week_rows = _weekly(weeks, now)
    biggest = max((max(w.flagged, w.confirmed) for w in week_rows), default=0) or 1
    for i, week in enumerate(week_rows):
        week.x = 10 + i * (2 * BAR_WIDTH + 10)
        week.h_flagged = round(CHART_HEIGHT * week.flagged / biggest, 1)
        week.h_confirmed = round(CHART_HEIGHT * week.confirmed / biggest, 1)
        week.y_flagged = round(CHART_HEIGHT - week.h_flagged, 1)
        week.y_confirmed = round(CHART_HEIGHT - week.h_confirmed, 1)

    sources = _grouped("ad__source__name")
    categories = _grouped("ad__verdict__category", {k: str(v) for k, v in CATEGORY_LABELS.items()})
    total = Row("", "", sum(r.flagged for r in sources), sum(r.confirmed for r in sources),
                sum(r.dismissed for r in sources), sum(r.pending for r in sources))

    pending = ReviewItem.objects.filter(status=S.PENDING)
    queue = pending.aggregate(
        claimed=Count("id", filter=Q(claimed_by__isnull=False, claimed_at__gte=now - claim_ttl())),
        oldest=Min("created_at"),
        day=Count("id", filter=Q(created_at__gte=now - timedelta(days=1))),
        three=Count("id", filter=Q(created_at__lt=now - timedelta(days=1),
                                   created_at__gte=now - timedelta(days=3))),
        week=Count("id", filter=Q(created_at__lt=now - timedelta(days=3),
                                  created_at__gte=now - timedelta(days=7))),
        older=Count("id", filter=Q(created_at__lt=now - timedelta(days=7))),
    )
    buckets = [(_("under a day"), queue["day"]), (_("1 to 3 days"), queue["three"]),
               (_("3 to 7 days"), queue["week"]), (_("over a week"), queue["older"])]
    return Dashboard(
        weeks=week_rows, sources=sources, categories=categories, total=total,
        pending=total.pending, claimed=queue["claimed"], oldest_pending=queue["oldest"],
        age_buckets=buckets, chart_width=20 + weeks * (2 * BAR_WIDTH + 10),
        max_week=biggest, estimates=estimates.build(months=ESTIMATE_MONTHS),
    )
