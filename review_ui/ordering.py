"""The orders the queue offers: highest priority first, and most informative first.

An officer's decision teaches the classifier most where the model is least sure of itself: near
its threshold, where a small change of the text flips the verdict. "Most informative first"
orders items by the distance of their score from the threshold of the model in use (the file
``TUTORWATCH_MODEL`` names, else the promoted version, else the shipped model;
``TUTORWATCH_FLAG_THRESHOLD`` when set), the nearest first, and the queue's priority among
equals. Items without a score come last. "Highest score first" is the model's score alone
(``review_ui.queue_explain`` says what priority adds to it); "newest first" is the ads found
most recently.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from django.conf import settings
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


def ordered(items: QuerySet, order: str | None) -> QuerySet:
    """``items`` (review items) in the named order; the queue's priority order by default."""
    if order == UNCERTAIN:
        distance = Abs(F("ad__verdict__score") - model_threshold())
        return items.alias(distance=distance).order_by(
            F("distance").asc(nulls_last=True), "-priority", "-pk")
    if order == SCORE:
        return items.order_by(F("ad__verdict__score").desc(nulls_last=True), "-priority", "-pk")
    if order == NEWEST:
        return items.order_by("-ad__first_seen_at", "-pk")
    return items.order_by("-priority", "-pk")
