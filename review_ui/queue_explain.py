"""What the queue says about itself: the order it is in, why an item ranks where it does, a
score that tells flagged ads apart, sources by their description, and tab counts that follow
the officer's own decisions at once.

- **Priority reasons.** ``PRIORITY_REASONS`` is a list of functions, each given a page's rows
  (the queue's plain-value rows, ``review_ui.views.QUEUE_COLUMNS``) and returning one reason
  (a short phrase) or None per row. The model's score, shared contacts, the posting date, copies
  and the exploration sample are here; another feature (a blacklist match, an operator's
  history) appends its own function with ``add_priority_reason``, reading what it needs for the
  page's ad ids in one query.
- **Scores.** The classifier's score is a calibrated probability (sigmoid calibration,
  ``classifier.model.build_pipeline``), so it is shown as one: a risk band against the model's
  threshold (``review_ui.ordering.model_threshold``) and a percentage with as many decimals as
  it takes to tell 99.2% from 99.97% (flagged ads crowd near 1, where two decimals all read 1.00).
- **Counts.** The tab counts are cached per worker process for
  ``TUTORWATCH_QUEUE_COUNTS_SECONDS``; a decision marks the officer's session, and their next
  queue page counts afresh (whatever worker serves it) and refreshes that worker's figures.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django import forms
from django.core.cache import cache
from django.db.models import Count
from django.db.models.fields.json import KT
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from review_ui.models import SHARE_WEIGHT, Ad, Source
from review_ui.ordering import NEWEST, PRIORITY, SCORE, UNCERTAIN, model_threshold

COUNTS_STALE_KEY = "tutorwatch:counts-stale"

ORDER_EXPLANATIONS = {
    PRIORITY: gettext_lazy(
        "Highest priority first. Priority is the model's score, plus %(share)s for each "
        "doubling of the ads sharing a contact, plus 0.1 for every 30 days an ad is newer: "
        "each line says what raised it."),
    SCORE: gettext_lazy("Highest score first: the model's probability that the ad breaks the "
                        "rules, alone."),
    NEWEST: gettext_lazy("Newest first: the ads found most recently."),
    UNCERTAIN: gettext_lazy("Most informative first: the scores nearest the model's "
                            "threshold, where a decision teaches the model most."),
}


def order_explanation(order: str | None) -> str:
    text = ORDER_EXPLANATIONS.get(order or PRIORITY, ORDER_EXPLANATIONS[PRIORITY])
    return str(text) % {"share": SHARE_WEIGHT} if (order or PRIORITY) == PRIORITY else str(text)


# --- Scores -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ScoreShown:
    band: str  # "high", "medium", "low": a CSS class as well
    label: str
    percent: str


def percent(score: float) -> str:
    """A probability as a percentage with the decimals that tell it apart from its neighbours
    near 0 and 1: 0.97 → 97%, 0.9973 → 99.7%, 0.999926 → 99.993%, 0.0004 → 0.04%."""
    tail = min(score, 1 - score) * 100
    if tail <= 0:
        return "100%" if score >= 1 else "0%"
    decimals = 0 if tail >= 1 else min(3, -math.floor(math.log10(tail)))
    return f"{score * 100:.{decimals}f}%"


def shown_score(score: float, threshold: float) -> ScoreShown:
    """The band of a score against the model's threshold: high at or above the middle of the
    flagged range, medium when flagged, low below the threshold."""
    high_from = threshold + (1 - threshold) / 2
    if score >= high_from:
        band, label = "high", _("high risk")
    elif score >= threshold:
        band, label = "medium", _("medium risk")
    else:
        band, label = "low", _("low risk")
    return ScoreShown(band=band, label=label, percent=percent(score))


# --- Priority reasons ---------------------------------------------------------------------------

ReasonSource = Callable[[list[dict]], list[str | None]]


def _score_reason(rows: list[dict]) -> list[str | None]:
    reasons: list[str | None] = []
    for row in rows:
        score = row.get("ad__verdict__score")
        if row.get("sample"):
            reasons.append(_("exploration sample (ranked at the threshold)"))
        elif score is not None:
            reasons.append(_("score %(score)s") % {"score": percent(score)})
        else:
            reasons.append(None)
    return reasons


def _shares_reason(rows: list[dict]) -> list[str | None]:
    reasons: list[str | None] = []
    for row in rows:
        shared = row.get("ad__contact_shares") or 0
        if shared > 0:
            bonus = SHARE_WEIGHT * math.log2(1 + shared)
            reasons.append(_("%(n)d ads share a contact (+%(bonus).2f)")
                           % {"n": shared, "bonus": bonus})
        else:
            reasons.append(None)
    return reasons


def _date_reason(rows: list[dict]) -> list[str | None]:
    reasons: list[str | None] = []
    for row in rows:
        when: datetime | None = row.get("ad__posted_at") or row.get("ad__first_seen_at")
        reasons.append(_("posted %(date)s") % {
            "date": timezone.localtime(when).strftime("%Y-%m-%d")} if when else None)
    return reasons


def _copies_reason(rows: list[dict]) -> list[str | None]:
    groups = {row.get("ad__duplicate_group_id") for row in rows} - {None}
    sizes = dict(Ad.objects.filter(duplicate_group_id__in=groups).values("duplicate_group_id")
                 .annotate(n=Count("pk")).values_list("duplicate_group_id", "n")) if groups else {}
    reasons: list[str | None] = []
    for row in rows:
        copies = sizes.get(row.get("ad__duplicate_group_id"), 1) - 1
        reasons.append(_("%(n)d copies found") % {"n": copies} if copies > 0 else None)
    return reasons


PRIORITY_REASONS: list[ReasonSource] = [_score_reason, _shares_reason, _copies_reason,
                                        _date_reason]
# What the reasons read beside the queue's own columns (added to the queue's query).
REASON_COLUMNS: list[str] = ["ad__posted_at", "ad__first_seen_at", "ad__duplicate_group_id",
                             "priority"]


def add_priority_reason(source: ReasonSource, columns: tuple[str, ...] = ()) -> None:
    """Add a reason to every queue line (another feature's: a blacklist match, an operator's
    history); ``columns`` are the queue query's extra values it reads from each row."""
    PRIORITY_REASONS.append(source)
    REASON_COLUMNS.extend(c for c in columns if c not in REASON_COLUMNS)


def priority_reasons(rows: list[dict]) -> list[list[str]]:
    """Each row's reasons, in PRIORITY_REASONS' order, the empty ones left out."""
    per_source = [source(rows) for source in PRIORITY_REASONS]
    return [[found[i] for found in per_source if found[i]] for i in range(len(rows))]


@dataclass(frozen=True)
class Explanation:
    score: ScoreShown | None
    priority: str
    reasons: list[str]


def explain(rows: list[dict]) -> list[Explanation]:
    threshold = model_threshold()
    explanations = []
    for row, reasons in zip(rows, priority_reasons(rows), strict=True):
        score = row.get("ad__verdict__score")
        blind = row.get("sample") and row.get("status") == "pending"
        explanations.append(Explanation(
            score=None if blind or score is None else shown_score(score, threshold),
            priority=f"{row['priority']:.2f}" if row.get("priority") is not None else "",
            reasons=reasons,
        ))
    return explanations


# --- Sources ------------------------------------------------------------------------------------

def source_descriptions() -> dict[str, str]:
    """Each source's description from its config (its name when it has none)."""
    return {name: (description or name) for name, description in
            Source.objects.annotate(description=KT("config__description"))
            .values_list("name", "description")}


def source_label(source: Source) -> str:
    description = source.config.get("description") if isinstance(source.config, dict) else ""
    return str(description or source.name)


class SourceChoiceField(forms.ModelChoiceField):
    """A source chosen by name, listed by its description."""

    def label_from_instance(self, obj: Source) -> str:
        return source_label(obj)


# --- Counts -------------------------------------------------------------------------------------

def counts_changed(request: HttpRequest) -> None:
    """After this user's decision: their next queue page counts afresh."""
    from review_ui.views import COUNTS_CACHE_KEY

    cache.delete(COUNTS_CACHE_KEY)
    request.session[COUNTS_STALE_KEY] = True


def refresh_counts_if_stale(request: HttpRequest) -> None:
    """Drop this worker's cached counts when this user decided something since their last
    queue page (the decision may have been served by another worker)."""
    from review_ui.views import COUNTS_CACHE_KEY

    if request.session.pop(COUNTS_STALE_KEY, False):
        cache.delete(COUNTS_CACHE_KEY)


# --- The order ----------------------------------------------------------------------------------

def order_context(query: str, order: str | None) -> dict:
    """The queue's order in words, and a link to each order keeping the page's filters."""
    from django.http import QueryDict

    from review_ui.ordering import ORDERS

    current = order or PRIORITY
    links = []
    for value, label in ORDERS:
        params = QueryDict(query, mutable=True)
        params["order"] = value
        links.append((str(label), "?" + params.urlencode(), value == current))
    return {"order_note": order_explanation(current), "order_links": links}
