"""The queue's place filters: district, township, and where an ad stands against the
jurisdiction (``review_ui.places.jurisdiction``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils.translation import pgettext_lazy

from review_ui.places.jurisdiction import INSIDE, OUTSIDE, UNKNOWN, standing_q

STANDING_CHOICES = [
    ("", pgettext_lazy("places", "anywhere")),
    (INSIDE, pgettext_lazy("places", "inside the jurisdiction")),
    (OUTSIDE, pgettext_lazy("places", "outside the jurisdiction")),
    (UNKNOWN, pgettext_lazy("places", "place not known")),
]


def filter_by_place(items: QuerySet, data: dict[str, Any], prefix: str = "ad__") -> QuerySet:
    """Review items (``prefix`` leads to their ad) narrowed by the form's place fields."""
    if (data.get("district") or "").strip():
        items = items.filter(**{f"{prefix}district": data["district"].strip()})
    if (data.get("township") or "").strip():
        items = items.filter(**{f"{prefix}township": data["township"].strip()})
    standing = data.get("jurisdiction")
    jurisdiction = settings.TUTORWATCH_JURISDICTION
    if standing and jurisdiction is not None:
        items = items.filter(standing_q(jurisdiction, standing, prefix))
    return items
