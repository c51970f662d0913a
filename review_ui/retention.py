"""Retention of personal data: the stored page, text and contacts of ads nobody flagged are purged
after ``TUTORWATCH_RETAIN_UNFLAGGED_DAYS`` days (90; 0 keeps them).

An ad is purged when it was first stored more than that many days ago and no model ever flagged
it, it was never queued (flagged, drawn as an exploration sample or submitted by an officer, so
never decided either), and no ad of its group of copies was queued. Its title, text, raw page,
phones, WeChat ids and contact text, its earlier versions' same fields, its verdicts' evidence
(words quoted from the text) and its rows in the contact index go; the row, URL, source, region,
hashes, dates and scores stay for the statistics, and ``purged_at`` says when. Each batch is one
transaction with its ``ads.purged`` audit row.

A purged ad fetched again unchanged stays purged (:func:`keep_purged`, called by the store);
one whose text changed, or that a model now flags, is stored again like any other.

Run daily by ``tutorwatch schedule`` (``TUTORWATCH_PURGE_SCHEDULE``) and by ``tutorwatch purge``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from review_ui.models import Ad, AdContact, AdVersion, AuditEvent, ReviewItem, Verdict

BATCH = 500
# The ad's columns that hold what was read on the page; hashes, dates and scores are not here.
CONTENT = {"title": "", "text": "", "phones": [], "wechat_ids": [], "contact_raw": "",
           "raw_page": b""}


def retain_days() -> int:
    return int(settings.TUTORWATCH_RETAIN_UNFLAGGED_DAYS)


def purgeable(days: int, now: datetime | None = None) -> QuerySet[Ad]:
    """The ads whose content is due to be purged: first stored more than ``days`` days ago,
    never flagged by any model, never queued, no copy queued, not purged yet."""
    cutoff = (now or timezone.now()) - timedelta(days=days)
    queued_groups = ReviewItem.objects.filter(ad__duplicate_group__isnull=False).values(
        "ad__duplicate_group")
    return (Ad.objects.filter(first_seen_at__lt=cutoff, purged_at__isnull=True)
            .exclude(review_item__isnull=False)
            .exclude(verdicts__label=True)
            .exclude(submission__isnull=False)
            .exclude(duplicate_group__in=queued_groups)
            .order_by("pk"))


@dataclass
class PurgeReport:
    days: int
    cutoff: datetime
    ads: int = 0
    versions: int = 0
    contacts: int = 0
    ad_ids: list[int] = field(default_factory=list)


def _batches(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), BATCH):
        yield ids[start:start + BATCH]


def purge(days: int | None = None, *, dry_run: bool = False, by: str = "command",
          now: datetime | None = None) -> PurgeReport:
    """Purge (or, with ``dry_run``, count) the content of the ads :func:`purgeable` selects."""
    days = retain_days() if days is None else days
    if days < 1:
        raise ValueError("the retention period is off (0 days): nothing is purged")
    now = now or timezone.now()
    report = PurgeReport(days=days, cutoff=now - timedelta(days=days))
    ids = list(purgeable(days, now).values_list("pk", flat=True))
    report.ad_ids = ids
    report.ads = len(ids)
    if dry_run:
        report.versions = AdVersion.objects.filter(ad_id__in=ids).count() if ids else 0
        report.contacts = AdContact.objects.filter(ad_id__in=ids).count() if ids else 0
        return report
    for batch in _batches(ids):
        versions, contacts = _purge_batch(batch, report, by, now)
        report.versions += versions
        report.contacts += contacts
    return report


def _purge_batch(ids: list[int], report: PurgeReport, by: str, now: datetime) -> tuple[int, int]:
    from review_ui.store.contacts import _holders, _sharing
    from review_ui.store.review_items import reprioritize

    with transaction.atomic():
        # Locked and checked again: a crawl may have flagged or queued one meanwhile.
        list(Ad.objects.select_for_update().filter(pk__in=ids).values_list("pk", flat=True))
        ids = list(purgeable(report.days, now).filter(pk__in=ids).values_list("pk", flat=True))
        if not ids:
            return 0, 0
        keys = set(AdContact.objects.filter(ad_id__in=ids).values_list("kind", "value"))
        contacts, _ = AdContact.objects.filter(ad_id__in=ids).delete()
        # The other ads that shared a contact with these share it with fewer now.
        others = set().union(*_holders(keys).values()) - set(ids) if keys else set()
        for other in Ad.objects.filter(pk__in=others):
            own = other.contact_keys()
            shares = len(_sharing(other.pk, own, _holders(own)))
            if shares != other.contact_shares:
                Ad.objects.filter(pk=other.pk).update(contact_shares=shares)
        if others:
            reprioritize(others)
        Ad.objects.filter(pk__in=ids).update(purged_at=now, contact_shares=0, **CONTENT)
        versions = AdVersion.objects.filter(ad_id__in=ids).update(**CONTENT)
        Verdict.objects.filter(ad_id__in=ids).update(evidence=[])
        AuditEvent.record(None, "ads.purged", detail={
            "by": by, "days": report.days, "cutoff": report.cutoff.isoformat(),
            "count": len(ids), "contacts": contacts, "versions": versions, "ads": ids,
        })
    return versions, contacts


def keep_purged(ad: Ad, fields: dict[str, Any], item: dict[str, Any]) -> None:
    """Before a purged ``ad`` is updated with a crawl's ``fields``: unchanged and still not
    flagged, it stays purged (its content is not stored again); otherwise it is stored again."""
    if ad.purged_at is None:
        return
    flagged = bool((item.get("verdict") or {}).get("label"))
    if fields.get("text_sha256") == ad.text_sha256 and not flagged:
        for name in CONTENT:
            fields.pop(name, None)
    else:
        fields["purged_at"] = None
