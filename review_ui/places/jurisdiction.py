"""The bureau's jurisdiction (``TUTORWATCH_JURISDICTION``) and where an ad stands against it.

The variable names a county, city or province: a 6-digit division code (``430103``; a city's
``430100``, a province's ``430000``) or its name as the divisions write it (``长沙市天心区``,
``天心区``, ``湖南省``). Unset: no jurisdiction, nothing is marked. A value that names no
division stops the start with one line naming the variable (``ImproperlyConfigured``).

An ad is *outside* when a level of its place that it knows differs from the jurisdiction's
(another province, city or district), *inside* when it matches down to the jurisdiction's own
level, and *unknown* otherwise (its place is not said precisely enough). The test is a query
on the ads' place columns, so changing the jurisdiction needs no re-parse.
"""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q

from review_ui.places.parser import Place, parse_region

INSIDE, OUTSIDE, UNKNOWN = "inside", "outside", "unknown"
_LEVELS = ("province", "city", "district")


def envjurisdiction(name: str) -> Place | None:
    """The jurisdiction the variable ``name`` names, None when unset; strict (see module)."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return None
    value = raw.strip()
    place = parse_region(value)
    if place.empty:
        raise ImproperlyConfigured(
            f"{name} must name a county, city or province (a 6-digit division code such as "
            f"430103, or a name such as 长沙市天心区); got {raw!r}"
        )
    if not value.isdigit() and not place.district and value.endswith(("区", "县")):
        raise ImproperlyConfigured(f"{name}: {raw!r} is no district the divisions know")
    return place


def _levels(jurisdiction: Place) -> list[tuple[str, str]]:
    return [
        (level, getattr(jurisdiction, level)) for level in _LEVELS if getattr(jurisdiction, level)
    ]


def outside_q(jurisdiction: Place, prefix: str = "") -> Q:
    """Ads (``prefix``: the path to the ad, such as ``ad__``) whose place contradicts it."""
    q = Q(pk__in=[])
    for level, value in _levels(jurisdiction):
        q |= ~Q(**{f"{prefix}{level}": ""}) & ~Q(**{f"{prefix}{level}": value})
    return q


def inside_q(jurisdiction: Place, prefix: str = "") -> Q:
    return Q(**{f"{prefix}{level}": value for level, value in _levels(jurisdiction)})


def standing_q(jurisdiction: Place, standing: str, prefix: str = "") -> Q:
    if standing == INSIDE:
        return inside_q(jurisdiction, prefix)
    if standing == OUTSIDE:
        return outside_q(jurisdiction, prefix)
    return ~inside_q(jurisdiction, prefix) & ~outside_q(jurisdiction, prefix)


def standing_of(jurisdiction: Place | None, place: dict[str, str]) -> str:
    """INSIDE, OUTSIDE or UNKNOWN for one ad's place (its columns as a mapping)."""
    if jurisdiction is None:
        return UNKNOWN
    levels = _levels(jurisdiction)
    if any(place.get(level) and place.get(level) != value for level, value in levels):
        return OUTSIDE
    if all(place.get(level) == value for level, value in levels):
        return INSIDE
    return UNKNOWN
