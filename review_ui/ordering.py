"""The orders the queue offers: highest priority first, and most informative first.

An officer's decision teaches the classifier most where the model is least sure of itself: near
its threshold, where a small change of the text flips the verdict. "Most informative first"
orders items by the distance of their score from the threshold of the model in use (the file
``TUTORWATCH_MODEL`` names, else the promoted version, else the shipped model;
``TUTORWATCH_FLAG_THRESHOLD`` when set), the nearest first, and the queue's priority among
equals. Items without a score come last. "Highest score first" is the model's score alone
(``review_ui.queue_explain`` says what priority adds to it); "newest first" is the ads found
most recently. The score orders read the item's copy of its ad's score (``ReviewItem.score``)
and its index.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.db import connections
from django.db.models import F, QuerySet
from django.db.models.functions import Abs
from django.utils.translation import gettext_lazy as _

PRIORITY = "priority"
UNCERTAIN = "uncertain"
SCORE = "score"
NEWEST = "newest"
ORDERS = [
    (PRIORITY, _("highest priority first")),
    (UNCERTAIN, _("most informative first")),
    (SCORE, _("highest score first")),
    (NEWEST, _("newest first")),
]
# Widens the range of scores "most informative first" reads, so that a rounding of the bounds
# cannot leave out a score at exactly the last row's distance (scores lie in [0, 1]).
SLACK = 1e-9
# "Newest first" looks for a page's items among the newest ads: first this many ads per row
# read, up to this many ads in all (beyond, the database sorts the items of the filter).
NEWEST_PROBE = 4
NEWEST_PROBE_LIMIT = 300_000


def model_threshold() -> float:
    """The threshold at or above which the model in use flags an ad, read from its sidecar
    (the JSON file beside the model), without loading the model itself."""
    configured = getattr(settings, "TUTORWATCH_FLAG_THRESHOLD", None)
    if configured is not None:
        return float(configured)
    # Imported here: importing the classifier (scikit-learn) at Django's start cost every
    # process about 1.5 CPU s, the crawl process among them, which never scores an ad.
    from classifier.model import DEFAULT_MODEL_PATH

    path = Path(getattr(settings, "TUTORWATCH_MODEL", None) or _promoted() or DEFAULT_MODEL_PATH)
    sidecar = path.with_suffix(".json")
    try:
        stamp = sidecar.stat().st_mtime_ns
    except OSError:
        return 0.5
    return _sidecar_threshold(str(sidecar), stamp)


def _promoted() -> str | None:
    from review_ui.models import ModelVersion

    return ModelVersion.objects.filter(is_current=True).values_list("path", flat=True).first()


@lru_cache(maxsize=4)
def _sidecar_threshold(sidecar: str, stamp: int) -> float:
    try:
        return float(json.loads(Path(sidecar).read_text(encoding="utf-8"))["threshold"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0.5  # an unreadable sidecar: the middle of the score range


def ordered(items: QuerySet, order: str | None, rows: int | None = None) -> QuerySet:
    """``items`` (review items) in the named order; the queue's priority order by default.

    ``rows``, when given, is how many rows from the start the caller will read (a page's end).
    The score orders are then narrowed to the scores those rows can have, found first by
    walking the index of ``ReviewItem.score`` (two short walks from the threshold for "most
    informative"), so that the database sorts about a page of items instead of all of a tab
    (half a million at a million ads); on SQLite, "newest first" looks among the newest ads
    (:func:`_newest_window`). The rows read are the same either way."""
    if order == UNCERTAIN:
        threshold = model_threshold()
        result = items.alias(distance=Abs(F("score") - threshold)).order_by(
            F("distance").asc(nulls_last=True), "-priority", "-pk")
        reach = _reach(items, threshold, rows) if rows else None
        if reach is not None:
            result = result.filter(score__range=(threshold - reach - SLACK,
                                                 threshold + reach + SLACK))
        return result
    if order == SCORE:
        result = items.order_by(F("score").desc(nulls_last=True), "-priority", "-pk")
        if rows:
            lowest = list(items.filter(score__isnull=False).order_by("-score", "-priority", "-pk")
                          .values_list("score", flat=True)[rows - 1:rows])
            if lowest:
                result = result.filter(score__gte=lowest[0])
        return result
    if order == NEWEST:
        result = items.order_by("-ad__first_seen_at", "-pk")
        # PostgreSQL walks the index of first_seen_at backwards and stops after a page; SQLite
        # sorts every item of the filter unless the ads are narrowed to the newest first.
        sqlite = connections[items.db].vendor == "sqlite"
        window = _newest_window(items, rows) if rows and sqlite else None
        return result if window is None else result.filter(ad_id__in=window)
    return items.order_by("-priority", "-pk")


def _newest_window(items: QuerySet, rows: int) -> QuerySet | None:
    """The newest ads (a query of their ids) among which the first ``rows`` items, newest
    first, lie: the newest ``rows`` × NEWEST_PROBE ads, then eight times as many while too few
    of them have an item of ``items``; None past NEWEST_PROBE_LIMIT ads or all of them.

    Filtering the items by these ids is what makes SQLite walk the index of ``first_seen_at``
    (with the item's status alone it sorts every item of the status)."""
    from review_ui.models import Ad

    newest = Ad.objects.order_by("-first_seen_at").values_list("first_seen_at", flat=True)
    depth = rows * NEWEST_PROBE
    while depth <= NEWEST_PROBE_LIMIT:
        edge = list(newest[depth - 1:depth])
        if not edge:
            return None
        window = Ad.objects.filter(first_seen_at__gte=edge[0]).values("pk")
        if items.filter(ad_id__in=window)[:rows].count() >= rows:
            return window
        depth *= 8
    return None


def _reach(items: QuerySet, threshold: float, rows: int) -> float | None:
    """The distance from the threshold within which the first ``rows`` items by distance lie:
    the nearest ``rows`` scores at or above the threshold and the nearest ``rows`` below, each
    a walk of the score index, merged. None when fewer items than that have a score (the rows
    read then reach the items without one)."""
    above = items.filter(score__gte=threshold).order_by("score").values_list("score", flat=True)
    below = items.filter(score__lt=threshold).order_by("-score").values_list("score", flat=True)
    distances = sorted(abs(score - threshold)
                       for score in [*above[:rows], *below[:rows]])
    return distances[rows - 1] if len(distances) >= rows else None
