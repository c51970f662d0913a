"""``{% batch_links ad %}``: on the ad page, for each of the ad's phones and WeChat ids shared
with other ads' pending items, and for its operator when that holds other pending items, a link
to decide them together (``review_ui.batch_views``)."""

from __future__ import annotations

from urllib.parse import urlencode

from django import template
from django.db.models import Count, Exists, OuterRef, Q
from django.urls import reverse

from review_ui.batch import GROUPS, OPERATOR
from review_ui.models import Ad, AdContact, ReviewItem

register = template.Library()


@register.inclusion_tag("review_ui/batch_links.html")
def batch_links(ad: Ad) -> dict:
    links = _operator_link(ad)
    keys = ad.contact_keys()
    if not keys:
        return {"links": links}
    match = Q()
    for kind, value in keys:
        match |= Q(kind=kind, value=value)
    # Each contact row's ad asked for its pending item (EXISTS): as ``ad_id IN (pending)``
    # SQLite listed every pending item first (1.6 s at a million ads).
    pending = ReviewItem.objects.filter(ad_id=OuterRef("ad_id"),
                                        status=ReviewItem.Status.PENDING)
    counts = (AdContact.objects.filter(match, Exists(pending)).values("kind", "value")
              .annotate(n=Count("ad_id")).order_by("kind", "value"))
    labels = dict(AdContact.KINDS)
    return {"links": [(_batch_url(row["kind"], row["value"]), labels[row["kind"]], row["value"],
                       row["n"]) for row in counts if row["n"] > 1] + links}


def _operator_link(ad: Ad) -> list[tuple[str, str, str, int]]:
    link = getattr(ad, "operator_link", None)  # None for an ad not linked yet
    if link is None:
        return []
    value = str(link.operator_id)
    n = GROUPS[OPERATOR].items(value).filter(status=ReviewItem.Status.PENDING).count()
    if n < 2:
        return []
    return [(_batch_url(OPERATOR, value), str(GROUPS[OPERATOR].label), f"#{value}", n)]


def _batch_url(kind: str, value: str) -> str:
    return reverse("review_ui:batch", args=[kind]) + "?" + urlencode({"value": value})
