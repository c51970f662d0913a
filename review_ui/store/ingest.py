"""The one place where a crawled ad enters the store and, when flagged, the review queue.

The crawler stores every ad through :meth:`review_ui.store.Store.ingest` (its store pipeline),
which calls :func:`ingest`: an upsert by URL in one transaction. A re-crawl (or a crawl
restarted after a crash) updates an ad, never duplicates it, and a new verdict is written only
when the text or the model changed. When the text changed, the earlier content is kept as an
:class:`~review_ui.models.AdVersion`. An ad whose text is a near-copy of stored ads joins their
group (``review_ui.duplicates``), and a group has one review item: a flagged copy of an ad
already queued is stored and linked, not queued again.

An item may carry ``region`` (the area a site shows, such as ``长沙-雨花区``); a re-crawl without
it keeps the region already stored. ``ingest`` also keeps the contact index (``AdContact``) and
every ad's count of other ads sharing a contact, which the queue's priority uses.
"""

from __future__ import annotations

import hashlib
import random
import time
from datetime import datetime
from typing import Any

from django.db import IntegrityError, OperationalError, transaction
from django.db.models import F, Max, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from review_ui.duplicates import link_copies, link_new_copies
from review_ui.models import (
    Ad,
    AdContact,
    AdVersion,
    AuditEvent,
    ReviewItem,
    Source,
    Verdict,
    priority,
)
from review_ui.store import IngestResult
from review_ui.store.connections import is_retryable
from review_ui.store.sources import source_row

# Past this many neighbours a contact is a hub (a platform's service number): their share
# counts still change, but refreshing each one's priority would cost more than the 0.1%
# it moves them.
REPRIORITIZE_LIMIT = 200
INGEST_ATTEMPTS = 5


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        return value
    parsed = parse_datetime(str(value))
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def ingest(items: list[dict[str, Any]], run_id: int | None = None) -> list[IngestResult]:
    """Store crawled ads in one transaction, with the outcome storing each of them alone would
    give, and return their results in the same order (a result's ``group_id`` is the ad's
    group once the whole batch is stored: a later ad of the batch may be its first copy).
    One difference: review items are made once the batch's groups are known, so an ad whose
    group a later ad of the batch merges into a queued one is linked to that item at once,
    where one by one it would get its own item, closed as merged when the later ad came.

    Ads not stored yet are written together (one statement per table for the whole batch);
    grouping copies and indexing contacts still go one ad at a time, and an ad already stored
    is updated on its own. When PostgreSQL aborts the transaction to break a deadlock with
    another crawl, it is tried again (up to ``INGEST_ATTEMPTS`` times, after a short random
    pause); nothing of an aborted try is left behind. When another process stored one of the
    URLs meanwhile, the items are stored one by one instead, that one as an update."""
    items = list(items)
    if not items:
        return []
    try:
        return _in_transaction(lambda: _submit_batch(items, run_id))
    except IntegrityError:
        return [_in_transaction(lambda item=item: _submit(item, run_id)) for item in items]


def _in_transaction(work: Any) -> Any:
    for attempt in range(1, INGEST_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                return work()
        except OperationalError as exc:
            if attempt == INGEST_ATTEMPTS or not is_retryable(exc):
                raise
            time.sleep(random.uniform(0.01, 0.05) * attempt)
    raise AssertionError("unreachable")


def _fields(item: dict[str, Any], source: Source, run_id: int | None,
            now: datetime) -> dict[str, Any]:
    """The columns of :class:`Ad` that a crawled item sets."""
    raw = item.get("raw_body") or b""
    text = item.get("body_text") or item.get("text") or ""
    fields = {
        "source": source,
        "title": (item.get("title") or "")[:500],
        "text": text,
        "posted_at": _when(item.get("posted_at")),
        "posted_at_raw": (item.get("posted_at_raw") or "")[:100],
        "fetched_at": _when(item.get("fetched_at")) or now,
        "phones": list(item.get("phones") or []),
        "wechat_ids": list(item.get("wechat_ids") or []),
        "contact_raw": item.get("contact_raw") or "",
        "raw_page": bytes(raw),
        "raw_sha256": hashlib.sha256(raw).hexdigest() if raw else "",
        "raw_content_type": (item.get("raw_content_type") or "")[:200],
        "raw_encoding": (item.get("raw_encoding") or "")[:50],
        "text_sha256": hashlib.sha256(f"{item.get('title', '')}\n{text}".encode()).hexdigest(),
        "checked_at": now,
        "extraction": (item.get("extraction") or "")[:32],
    }
    if run_id is not None:
        fields["crawl_run_id"] = run_id
    if item.get("region"):
        fields["region"] = str(item["region"]).strip()[:100]
    return fields


def _new_verdict(ad: Ad, data: dict[str, Any]) -> Verdict:
    return Verdict(
        ad=ad,
        score=float(data["score"]),
        label=bool(data["label"]),
        category=(data.get("category") or "")[:32],
        evidence=list(data.get("evidence") or []),
        model_version=str(data["model_version"])[:100],
    )


def _submit_batch(items: list[dict[str, Any]], run_id: int | None) -> list[IngestResult]:
    stored = _stored_of({item["url"] for item in items})
    fresh: dict[str, int] = {}  # URL not stored yet -> the first item that has it
    for index, item in enumerate(items):
        if item["url"] not in stored:
            fresh.setdefault(item["url"], index)
    results: list[IngestResult | None] = [None] * len(items)
    if fresh:
        order = list(fresh.values())
        for index, result in zip(order, _create_ads([items[i] for i in order], run_id),
                                 strict=True):
            results[index] = result
    for index, item in enumerate(items):
        if results[index] is None:  # stored before, or a second item with the same URL
            results[index] = _submit(item, run_id)
    return results  # type: ignore[return-value]


def _stored_of(urls: set[str]) -> set[str]:
    return set(Ad.objects.filter(url__in=urls).values_list("url", flat=True))


def _create_ads(items: list[dict[str, Any]], run_id: int | None) -> list[IngestResult]:
    """Store ads whose URLs are not stored yet: what :func:`_submit` does for a new ad, with
    the rows of the whole batch written together."""
    now = timezone.now()
    sources = {name: source_row(name) for name in dict.fromkeys(item["source"] for item in items)}
    ads = [Ad(url=item["url"], **_fields(item, sources[item["source"]], run_id, now))
           for item in items]
    Ad.objects.bulk_create(ads)
    AuditEvent.objects.bulk_create(
        AuditEvent(action="ad.created", ad=ad, detail={"run": run_id}) for ad in ads
    )
    link_new_copies(ads)
    # A later ad of the batch may have merged an earlier one's group.
    groups = dict(Ad.objects.filter(pk__in=[ad.pk for ad in ads])
                  .values_list("pk", "duplicate_group_id"))
    for ad in ads:
        ad.duplicate_group_id = groups[ad.pk]
    shares_changed = _index_new_contacts(ads)

    verdicts = {ad.pk: _new_verdict(ad, item["verdict"])
                for ad, item in zip(ads, items, strict=True) if item.get("verdict")}
    Verdict.objects.bulk_create(verdicts.values())
    for ad in ads:
        if ad.pk in verdicts:
            ad.verdict = verdicts[ad.pk]
    _set_verdicts_and_shares([ad for ad in ads if ad.pk in verdicts or ad.contact_shares])

    flagged_groups = {ad.duplicate_group_id for ad in ads
                      if ad.pk in verdicts and verdicts[ad.pk].label} - {None}
    group_items: dict[int, ReviewItem] = {}
    for row in (ReviewItem.objects.select_for_update()
                .filter(ad__duplicate_group_id__in=flagged_groups)
                .exclude(status=ReviewItem.Status.MERGED)
                .annotate(group=F("ad__duplicate_group_id")).order_by("created_at", "pk")):
        group_items.setdefault(row.group, row)
    queued: list[ReviewItem] = []
    raised: dict[int, ReviewItem] = {}  # stored group items whose priority a copy raised
    results = []
    for ad in ads:
        verdict = verdicts.get(ad.pk)
        flagged = bool(verdict and verdict.label)
        group_item = group_items.get(ad.duplicate_group_id) if flagged else None
        copy_of_queued = False
        if flagged and group_item is None:
            row = ReviewItem(ad=ad, priority=item_priority(ad, verdict.score))
            queued.append(row)
            if ad.duplicate_group_id is not None:
                group_items[ad.duplicate_group_id] = row
        elif flagged:
            # One review item per group: the copy is linked to it, and raises its priority.
            copy_of_queued = True
            wanted = item_priority(ad, verdict.score)
            if group_item.status == ReviewItem.Status.PENDING and group_item.priority < wanted:
                group_item.priority = wanted
                if group_item.pk is not None:
                    raised[group_item.pk] = group_item
        results.append(IngestResult(
            ad_id=ad.pk, outcome="new", flagged=flagged,
            queued=flagged and not copy_of_queued, group_id=ad.duplicate_group_id,
            copy_of_queued=copy_of_queued,
        ))
    ReviewItem.objects.bulk_create(queued)
    AuditEvent.objects.bulk_create(
        AuditEvent(action="item.queued", ad=row.ad, item=row,
                   detail={"score": verdicts[row.ad.pk].score}) for row in queued
    )
    for row in raised.values():
        row.save(update_fields=["priority", "updated_at"])
    if shares_changed:
        reprioritize(shares_changed)
    return results


def _submit(item: dict[str, Any], run_id: int | None) -> IngestResult:
    source = source_row(item["source"])
    now = timezone.now()
    fields = _fields(item, source, run_id, now)

    text_changed = reappeared = False
    ad = Ad.objects.select_for_update().filter(url=item["url"]).first()
    if ad is None:
        ad = Ad.objects.create(url=item["url"], **fields)
        outcome = "new"
        old_keys: set[tuple[str, str]] = set()
        AuditEvent.record(None, "ad.created", ad=ad, detail={"run": run_id})
    else:
        text_changed = ad.text_sha256 != fields["text_sha256"]
        changed = text_changed or ad.raw_sha256 != fields["raw_sha256"]
        outcome = "updated" if changed else "unchanged"
        version = _keep_version(ad, until=now) if text_changed else None
        if text_changed:
            fields["changed_at"] = now
        if ad.removed_at is not None:
            reappeared = True
            AuditEvent.record(None, "ad.reappeared", ad=ad, detail={
                "run": run_id, "removed_at": ad.removed_at.isoformat(), "removal": ad.removal,
            })
            fields["removed_at"], fields["removal"] = None, ""
        old_keys = ad.contact_keys()
        for name, value in fields.items():
            setattr(ad, name, value)
        ad.save()
        if changed:
            detail: dict[str, Any] = {"run": run_id}
            if version is not None:
                detail["earlier_version"] = version.number
            AuditEvent.record(None, "ad.updated", ad=ad, detail=detail)
    new = outcome == "new"
    if outcome != "unchanged":
        link_copies(ad, new=new)
    shares_changed = _index_contacts(ad, old_keys, new=new)

    verdict_data = item.get("verdict")
    verdict = ad.verdict
    if verdict_data and (
        verdict is None or outcome != "unchanged"
        or verdict.model_version != verdict_data["model_version"]
    ):
        verdict = _new_verdict(ad, verdict_data)
        verdict.save()
        ad.verdict = verdict
        ad.save(update_fields=["verdict"])

    flagged = bool(verdict and verdict.label)
    queued = copy_of_queued = False
    if verdict is not None:
        existing = None if new else ReviewItem.objects.filter(ad=ad).first()
        group_item = None
        if existing is None and ad.duplicate_group_id is not None:
            group_item = (ReviewItem.objects.select_for_update()
                          .filter(ad__duplicate_group_id=ad.duplicate_group_id)
                          .exclude(status=ReviewItem.Status.MERGED)
                          .order_by("created_at", "pk").first())
        if existing is None and group_item is None and flagged:
            item_row = ReviewItem.objects.create(ad=ad, priority=item_priority(ad, verdict.score))
            AuditEvent.record(None, "item.queued", ad=ad, item=item_row,
                              detail={"score": verdict.score})
            queued = True
        elif existing is not None and existing.status == ReviewItem.Status.PENDING:
            wanted = item_priority(ad, verdict.score)
            if existing.priority != wanted:
                existing.priority = wanted
                existing.save(update_fields=["priority", "updated_at"])
        elif group_item is not None and flagged:
            # One review item per group: the copy is linked to it, and raises its priority.
            copy_of_queued = True
            pending = group_item.status == ReviewItem.Status.PENDING
            if pending and group_item.priority < item_priority(ad, verdict.score):
                group_item.priority = item_priority(ad, verdict.score)
                group_item.save(update_fields=["priority", "updated_at"])
    if shares_changed and len(shares_changed) <= REPRIORITIZE_LIMIT:
        reprioritize(shares_changed)
    return IngestResult(ad_id=ad.pk, outcome=outcome, flagged=flagged, queued=queued,
                        group_id=ad.duplicate_group_id, copy_of_queued=copy_of_queued,
                        changed=text_changed, reappeared=reappeared)


def _keep_version(ad: Ad, until: datetime) -> AdVersion:
    """Copy the ad's current content into a new earlier version, before it is overwritten."""
    number = (AdVersion.objects.filter(ad=ad).count()) + 1
    return AdVersion.objects.create(
        ad=ad, number=number, title=ad.title, text=ad.text, posted_at_raw=ad.posted_at_raw,
        phones=list(ad.phones), wechat_ids=list(ad.wechat_ids), contact_raw=ad.contact_raw,
        raw_page=bytes(ad.raw_page), raw_sha256=ad.raw_sha256,
        raw_content_type=ad.raw_content_type, raw_encoding=ad.raw_encoding,
        text_sha256=ad.text_sha256, fetched_at=ad.fetched_at,
        seen_from=ad.changed_at or ad.first_seen_at, seen_until=until, verdict=ad.verdict,
    )


def item_priority(ad: Ad, score: float) -> float:
    return priority(score, ad.posted_at or ad.first_seen_at, ad.contact_shares)


def _neighbours(keys: set[tuple[str, str]], ad_id: int) -> set[int]:
    if not keys:
        return set()
    match = Q()
    for kind, value in keys:
        match |= Q(kind=kind, value=value)
    return set(AdContact.objects.filter(match).exclude(ad_id=ad_id)
               .values_list("ad_id", flat=True).distinct())


def _index_contacts(ad: Ad, old_keys: set[tuple[str, str]], new: bool = False) -> set[int]:
    """Bring the contact index and the share counts up to date with ``ad``'s contacts
    (``new``: the ad was created in this transaction, so it has no index rows yet).

    Returns the ids of the other ads whose share count changed."""
    new_keys = ad.contact_keys()
    if new_keys == old_keys:
        return set()
    before = _neighbours(old_keys, ad.pk)
    if not new:
        AdContact.objects.filter(ad=ad).delete()
    AdContact.objects.bulk_create(
        [AdContact(ad=ad, kind=kind, value=value) for kind, value in sorted(new_keys)]
    )
    after = _neighbours(new_keys, ad.pk)
    gained, lost = after - before, before - after
    if gained:
        Ad.objects.filter(pk__in=gained).update(contact_shares=F("contact_shares") + 1)
    if lost:
        Ad.objects.filter(pk__in=lost).update(contact_shares=F("contact_shares") - 1)
    if ad.contact_shares != len(after):
        ad.contact_shares = len(after)
        ad.save(update_fields=["contact_shares"])
    return gained | lost


def _set_verdicts_and_shares(ads: list[Ad]) -> None:
    """Save the ads' ``verdict`` and ``contact_shares`` (one prepared statement: the ORM's
    ``bulk_update`` spent longer building its CASE expression than the database running it)."""
    if not ads:
        return
    from django.db import connection

    quote = connection.ops.quote_name
    column = {name: quote(Ad._meta.get_field(name).column)
              for name in ("verdict", "contact_shares", "id")}
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {quote(Ad._meta.db_table)} SET {column['verdict']} = %s, "
            f"{column['contact_shares']} = %s WHERE {column['id']} = %s",
            [(ad.verdict_id, ad.contact_shares, ad.pk) for ad in ads],
        )


def _index_new_contacts(ads: list[Ad]) -> set[int]:
    """:func:`_index_contacts` for ads just created, together: index their contacts, set each
    one's ``contact_shares`` (not saved), and count them in the stored ads sharing a contact.
    Returns the ids of the ads whose share count changed, as :func:`_index_contacts` would
    have one ad at a time (a contact shared with more than ``REPRIORITIZE_LIMIT`` ads is left
    out)."""
    keys = {ad.pk: ad.contact_keys() for ad in ads}
    AdContact.objects.bulk_create(
        AdContact(ad_id=pk, kind=kind, value=value)
        for pk, ad_keys in keys.items() for kind, value in sorted(ad_keys)
    )
    wanted = set().union(*keys.values())
    if not wanted:
        return set()
    holders: dict[tuple[str, str], set[int]] = {}
    match = Q()
    for kind in {kind for kind, _ in wanted}:
        match |= Q(kind=kind, value__in=sorted({value for k, value in wanted if k == kind}))
    for ad_id, kind, value in AdContact.objects.filter(match).values_list("ad_id", "kind",
                                                                          "value"):
        if (kind, value) in wanted:
            holders.setdefault((kind, value), set()).add(ad_id)
    batch = {ad.pk for ad in ads}
    gained: dict[int, int] = {}  # a stored ad -> how many of these ads share a contact with it
    changed: set[int] = set()
    for ad in ads:
        others = set().union(*(holders[key] for key in keys[ad.pk])) - {ad.pk}
        ad.contact_shares = len(others)
        for other in others - batch:
            gained[other] = gained.get(other, 0) + 1
        if len(others) <= REPRIORITIZE_LIMIT:
            changed |= others
    by_count: dict[int, list[int]] = {}
    for other, count in gained.items():
        by_count.setdefault(count, []).append(other)
    for count, ids in by_count.items():
        Ad.objects.filter(pk__in=ids).update(contact_shares=F("contact_shares") + count)
    return changed


def reprioritize(ad_ids: set[int]) -> int:
    """Recompute the priority of the pending review items of these ads."""
    items = list(
        ReviewItem.objects.filter(ad_id__in=ad_ids, status=ReviewItem.Status.PENDING)
        .select_related("ad", "ad__verdict")
        # What the priority needs: not the ad's text or stored page.
        .only("priority", "ad__posted_at", "ad__first_seen_at", "ad__contact_shares",
              "ad__duplicate_group", "ad__verdict__score")
    )
    # A group's item stands for all its copies: the best-scored copy counts.
    groups = {row.ad.duplicate_group_id for row in items} - {None}
    best = dict(
        Verdict.objects.filter(ad__duplicate_group_id__in=groups, ad__verdict=F("pk"))
        .values_list("ad__duplicate_group_id").annotate(best=Max("score"))
    ) if groups else {}
    for row in items:
        score = row.ad.verdict.score if row.ad.verdict else 0.0
        if row.ad.duplicate_group_id is not None:
            score = max(score, best.get(row.ad.duplicate_group_id) or 0.0)
        row.priority = item_priority(row.ad, score)
    ReviewItem.objects.bulk_update(items, ["priority"])
    return len(items)
