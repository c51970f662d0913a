"""Per-township figures for the dashboard (issue 19, point 3): flagged ads, confirmed items
and open items (pending or escalated) in each district and township, in the jurisdiction when
one is set, with the county's townships from the division data laid out as a grid."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q

from review_ui.models import Ad, ReviewItem
from review_ui.places.jurisdiction import inside_q
from review_ui.places.parser import Place, counties

OPEN_STATUSES = (ReviewItem.Status.PENDING, ReviewItem.Status.ESCALATED)


@dataclass
class TownshipRow:
    district: str
    township: str  # empty: the ads of the district whose township is not known
    flagged: int = 0
    confirmed: int = 0
    open: int = 0

    @property
    def total(self) -> int:
        return self.flagged + self.confirmed + self.open


def township_rows(jurisdiction: Place | None) -> list[TownshipRow]:
    """One row per (district, township) with any flagged ad or any item, busiest first; with a
    county jurisdiction every township of the county has a row, zeros included."""
    scope = inside_q(jurisdiction) if jurisdiction is not None else Q()
    in_scope = inside_q(jurisdiction, "ad__") if jurisdiction is not None else Q()
    rows: dict[tuple[str, str], TownshipRow] = {}

    def row(district: str, township: str) -> TownshipRow:
        return rows.setdefault((district, township), TownshipRow(district, township))

    if jurisdiction is not None and jurisdiction.district_code:
        county = counties().get(jurisdiction.district_code)
        for name in county.townships if county else ():
            row(jurisdiction.district, name)
    flagged = (
        Ad.objects.filter(scope, verdict__label=True)
        .exclude(district="")
        .values_list("district", "township")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for district, township, n in flagged:
        row(district, township).flagged = n
    items = (
        ReviewItem.objects.filter(in_scope)
        .exclude(ad__district="")
        .values_list("ad__district", "ad__township", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for district, township, status, n in items:
        if status == ReviewItem.Status.CONFIRMED:
            row(district, township).confirmed += n
        elif status in OPEN_STATUSES:
            row(district, township).open += n
    return sorted(rows.values(), key=lambda r: (r.district, -r.total, r.township == "", r.township))


def grid(rows: list[TownshipRow], columns: int = 6) -> list[dict[str, object]]:
    """The townships as tiles of a plain grid (no boundary data is shipped): position and a
    shade from 0 to 4 by flagged ads against the busiest township."""
    named = [r for r in rows if r.township]
    top = max((r.flagged + r.open for r in named), default=0)
    return [
        {
            "row": r,
            "x": i % columns,
            "y": i // columns,
            "shade": 0 if not top else min(4, round(4 * (r.flagged + r.open) / top)),
        }
        for i, r in enumerate(sorted(named, key=lambda r: (r.district, r.township)))
    ]
