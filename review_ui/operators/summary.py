"""What the queue says about an item's operator, and how much it raises the item.

Each queue line reads "经营者 #12：12 条广告，3 个来源，已确认违规 1 次" (``queue_lines``: a few
queries per page, never per row). An item whose operator had review items confirmed or
escalated ranks higher: :func:`operator_bonus` adds ``OPERATOR_WEIGHT`` per doubling of those
(one confirmed: +0.2 of score, as much as a contact shared with three other ads gives twice
over); the line says "优先" when the bonus applies, so the officer sees why.

A decision (a ``Decision`` row, by an officer, a supervisor or the API) recounts its operator's
confirmed items and re-ranks the operator's pending items, in the decision's transaction.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Max, Min
from django.db.models.functions import Greatest, Least
from django.utils.translation import gettext, pgettext

from review_ui.models import Ad, Decision, ReviewItem
from review_ui.operators.models import AdOperator, Operator
from review_ui.queue_explain import add_priority_reason

OPERATOR_WEIGHT = 0.2


def bonus_for(confirmed: int) -> float:
    return OPERATOR_WEIGHT * math.log2(1 + max(confirmed, 0))


def operator_bonus(ad: Ad) -> float:
    """The priority an ad's item gains from its operator's confirmed violations: one query,
    unless :func:`annotate_operator_confirmed` has read it already."""
    confirmed = getattr(ad, "operator_confirmed", None)
    if confirmed is None:
        confirmed = (
            AdOperator.objects.filter(ad_id=ad.pk)
            .values_list("operator__confirmed", flat=True)
            .first()
        )
    return bonus_for(confirmed or 0)


def annotate_operator_confirmed(ads: Iterable[Ad]) -> None:
    """Set ``operator_confirmed`` on each of ``ads`` (0 for an ad with no operator), as
    ``QuerySet.annotate`` would, in one query: the store ranks a batch's items without a query
    per item. The figure is as of now; an ad object kept after its operator's count changes
    must not be ranked with it."""
    ads = [ad for ad in ads if ad.pk is not None]
    if not ads:
        return
    confirmed = dict(
        AdOperator.objects.filter(ad_id__in=[ad.pk for ad in ads]).values_list(
            "ad_id", "operator__confirmed"
        )
    )
    for ad in ads:
        ad.operator_confirmed = confirmed.get(ad.pk) or 0


@dataclass(frozen=True)
class OperatorLine:
    operator_id: int
    ads: int
    sources: int
    confirmed: int

    @property
    def text(self) -> str:
        return gettext(
            "Operator #%(id)s: %(ads)s ads, %(sources)s sources, %(confirmed)s confirmed"
        ) % {
            "id": self.operator_id,
            "ads": self.ads,
            "sources": self.sources,
            "confirmed": self.confirmed,
        }

    @property
    def ranked_higher(self) -> bool:
        return self.confirmed > 0


def operator_stats(operator_ids: Iterable[int]) -> dict[int, dict]:
    """Ads, sources, first and last seen of each operator (one grouped query)."""
    ids = list(set(operator_ids))
    if not ids:
        return {}
    return {
        row["operator_link__operator_id"]: row
        for row in Ad.objects.filter(operator_link__operator_id__in=ids)
        .values("operator_link__operator_id")
        .annotate(
            ads=Count("pk"),
            sources=Count("source", distinct=True),
            first=Min(Least("first_seen_at", "fetched_at")),
            last=Max(Greatest("first_seen_at", "fetched_at")),
        )
        .order_by()
    }


def queue_lines(ad_ids: Iterable[int]) -> dict[int, OperatorLine]:
    """The operator line of each of these ads (ads with no operator are left out)."""
    links = dict(
        AdOperator.objects.filter(ad_id__in=list(ad_ids)).values_list("ad_id", "operator_id")
    )
    confirmed = dict(
        Operator.objects.filter(pk__in=set(links.values())).values_list("pk", "confirmed")
    )
    stats = operator_stats(links.values())
    return {
        ad_id: OperatorLine(
            op,
            stats.get(op, {}).get("ads", 0),
            stats.get(op, {}).get("sources", 0),
            confirmed.get(op, 0),
        )
        for ad_id, op in links.items()
    }


def decision_recorded(decision: Decision) -> None:
    """Recount the confirmed items of the decided ad's operator; re-rank its pending items
    when the count moved."""
    from review_ui.operators.linking import CONFIRMED
    from review_ui.store.review_items import reprioritize

    operator_id = (
        AdOperator.objects.filter(ad__review_item=decision.item_id)
        .values_list("operator_id", flat=True)
        .first()
    )
    if operator_id is None:
        return
    count = ReviewItem.objects.filter(
        status__in=CONFIRMED, ad__operator_link__operator_id=operator_id
    ).count()
    if not Operator.objects.filter(pk=operator_id).exclude(confirmed=count).update(confirmed=count):
        return
    reprioritize(
        set(
            ReviewItem.objects.filter(
                status=ReviewItem.Status.PENDING, ad__operator_link__operator_id=operator_id
            ).values_list("ad_id", flat=True)
        )
    )


def _operator_reason(rows: list[dict]) -> list[str | None]:
    """The queue's priority reason for items of an operator confirmed before (one query for
    the page's ads)."""
    confirmed = dict(
        AdOperator.objects.filter(ad_id__in=[row["ad_id"] for row in rows]).values_list(
            "ad_id", "operator__confirmed"
        )
    )
    reasons: list[str | None] = []
    for row in rows:
        n = confirmed.get(row["ad_id"]) or 0
        reasons.append(
            pgettext("operators", "its operator was confirmed %(n)d times (+%(bonus).2f)")
            % {"n": n, "bonus": bonus_for(n)}
            if n
            else None
        )
    return reasons


add_priority_reason(_operator_reason)
