"""The one place where a crawled ad enters the store and, when flagged, the review queue.

The crawler stores every ad through :meth:`review_ui.store.Store.ingest`, which calls
:func:`ingest`: an upsert by URL in one transaction. A re-crawl (or a crawl restarted after a
crash) updates an ad, never duplicates it, and a new verdict is written only when the text or
the model changed. When the text changed, the earlier content is kept as an
:class:`~review_ui.models.AdVersion`. An ad whose text is a near-copy of stored ads joins their
group (``review_ui.duplicates``), and a group has one review item
(``review_ui.store.review_items``): a flagged copy of an ad already queued is stored and
linked, not queued again. The contact index and every ad's count of other ads sharing a
contact, which the queue's priority uses, are kept by ``review_ui.store.contacts``.

A single ad is a batch of one: every ad goes through the same steps (:func:`_store`), written
together for the ads of a batch whose URLs are new.

An item with ``queue_always`` set is queued as a flagged ad is, whatever its score: an ad an
officer submitted (``review_ui.intake``).

Each ad flagged by its new verdict, and each flagged ad a re-check crawl finds still up, gets a
pending screenshot request in the same transaction (``review_ui.store.screenshots``); the
capture itself happens later, outside the crawl (``review_ui.capture``).

An item may carry ``region`` (the area a site shows, such as ``长沙-雨花区``); a re-crawl without
it keeps the region already stored. The ad's place (province, city, district, township) is
parsed from it, the text and the title, with the source's ``region:`` as default
(``review_ui.store.places``).
"""

from __future__ import annotations

import hashlib
import random
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from review_ui.duplicates import link_copies, link_new_copies
from review_ui.models import Ad, AdVersion, AuditEvent, Source, Verdict
from review_ui.operators.linking import link_ads
from review_ui.retention import keep_purged
from review_ui.store import IngestResult
from review_ui.store.connections import is_retryable
from review_ui.store.contacts import ContactKey, index_contacts
from review_ui.store.places import default_region, place_fields
from review_ui.store.rechecks import is_recheck_run
from review_ui.store.review_items import queue_flagged, reprioritize
from review_ui.store.screenshots import request_screenshots
from review_ui.store.sources import source_row

INGEST_ATTEMPTS = 5


def ingest(items: list[dict[str, Any]], run_id: int | None = None) -> list[IngestResult]:
    """Store crawled ads and their verdicts in one transaction, queue the flagged ones for
    review, and return their results in the same order (a result's ``group_id`` is the ad's
    group once the whole batch is stored: a later ad of the batch may be its first copy).

    The ads whose URLs are not stored yet are written together (one statement per table for the
    whole batch, grouping copies one ad at a time); then each ad already stored, and each
    second item of a URL, is updated on its own, in order. A batch stores what its ads stored
    one at a time store, with one difference: review items are made once the new ads' groups
    are known, so an ad whose group a later ad of the batch merges into a queued one is linked
    to that item at once, where one by one it would get its own item, closed as merged when
    the later ad came.

    When PostgreSQL aborts the transaction to break a deadlock with another crawl, it is tried
    again (up to ``INGEST_ATTEMPTS`` times, after a short random pause); nothing of an aborted
    try is left behind. When another process stored one of the URLs meanwhile, the items are
    stored one by one instead, that one as an update."""
    items = list(items)
    if not items:
        return []
    try:
        return _in_transaction(lambda: _ingest_batch(items, run_id))
    except IntegrityError:
        return [_in_transaction(lambda item=item: _ingest_batch([item], run_id))[0]
                for item in items]


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


def _ingest_batch(items: list[dict[str, Any]], run_id: int | None) -> list[IngestResult]:
    stored = _stored_of({item["url"] for item in items})
    fresh: dict[str, int] = {}  # URL not stored yet -> the first item that has it
    for index, item in enumerate(items):
        if item["url"] not in stored:
            fresh.setdefault(item["url"], index)
    together = list(fresh.values())
    alone = [index for index in range(len(items)) if index not in set(together)]
    results: list[IngestResult | None] = [None] * len(items)
    for indexes, known_new in ([(together, True)] if together else []) + [
            ([index], False) for index in alone]:
        for index, result in zip(indexes, _store([items[i] for i in indexes], run_id, known_new),
                                 strict=True):
            results[index] = result
    return results  # type: ignore[return-value]


def _stored_of(urls: set[str]) -> set[str]:
    return set(Ad.objects.filter(url__in=urls).values_list("url", flat=True))


@dataclass
class _Written:
    """An ad as :func:`_write_ads` left it."""

    ad: Ad
    outcome: str  # "new", "updated" or "unchanged"
    contacts_before: set[ContactKey] = field(default_factory=set)
    text_changed: bool = False
    reappeared: bool = False

    @property
    def new(self) -> bool:
        return self.outcome == "new"


def _store(items: list[dict[str, Any]], run_id: int | None,
           known_new: bool) -> list[IngestResult]:
    """Store ads of distinct URLs (``known_new``: none of them is stored) with their verdicts,
    group their copies, index their contacts and queue the flagged ones."""
    events: list[AuditEvent] = []
    written = _write_ads(items, run_id, known_new, events)
    _group_copies(written)
    shares = {w.ad.pk: w.ad.contact_shares for w in written}
    shares_changed = index_contacts([(w.ad, w.contacts_before, w.new) for w in written])
    link_ads([w.ad for w in written if w.outcome != "unchanged"], events,  # operators
             {w.ad.pk for w in written if w.new})
    was_flagged = {w.ad.pk for w in written if not w.new and _flagged(w.ad)}
    renewed = _record_verdicts(written, items)
    _save_verdicts_and_shares([w.ad for w in written
                               if w.ad.pk in renewed or w.ad.contact_shares != shares[w.ad.pk]])
    outcomes = queue_flagged([w.ad for w in written], [w.new for w in written], events,
                             always=_queued_always(written, items))
    if shares_changed:
        reprioritize(shares_changed)
    _request_screenshots(written, was_flagged, run_id)
    # Audit rows last: appending takes the audit chain's lock until the transaction commits
    # (review_ui/audit_chain.py), and officers' actions lock a review item before they append;
    # taking the chain's lock before the review items here could deadlock with them.
    AuditEvent.objects.bulk_create(events)
    return [
        IngestResult(ad_id=w.ad.pk, outcome=w.outcome,
                     flagged=bool(w.ad.verdict and w.ad.verdict.label), queued=queued,
                     group_id=w.ad.duplicate_group_id, copy_of_queued=linked,
                     changed=w.text_changed, reappeared=w.reappeared)
        for w, (queued, linked) in zip(written, outcomes, strict=True)
    ]


def _write_ads(items: list[dict[str, Any]], run_id: int | None, known_new: bool,
               events: list[AuditEvent]) -> list[_Written]:
    """Create or update the ads, keeping the earlier version of a changed text; their audit
    rows go to ``events``, written by the caller."""
    now = timezone.now()
    sources = {name: source_row(name) for name in dict.fromkeys(item["source"] for item in items)}
    locked = {} if known_new else {
        ad.url: ad for ad in Ad.objects.select_for_update().filter(
            url__in=[item["url"] for item in items])}
    written, created = [], []
    for item in items:
        fields = _fields(item, sources[item["source"]], run_id, now)
        ad = locked.get(item["url"])
        if ad is None:
            ad = Ad(url=item["url"], **fields)
            created.append(ad)
            written.append(_Written(ad, "new"))
        else:
            keep_purged(ad, fields, item)
            written.append(_update(ad, fields, run_id, now, events))
    Ad.objects.bulk_create(created)
    events[:0] = [AuditEvent(action="ad.created", ad=ad, detail={"run": run_id})
                  for ad in created]
    return written


def _update(ad: Ad, fields: dict[str, Any], run_id: int | None, now: datetime,
            events: list[AuditEvent]) -> _Written:
    """Update a stored ad (locked) with a crawl's ``fields``; its audit rows go to ``events``."""
    text_changed = ad.text_sha256 != fields["text_sha256"]
    changed = text_changed or ad.raw_sha256 != fields["raw_sha256"]
    version = _keep_version(ad, until=now) if text_changed else None
    if text_changed:
        fields["changed_at"] = now
    reappeared = ad.removed_at is not None
    if reappeared:
        events.append(AuditEvent(action="ad.reappeared", ad=ad, detail={
            "run": run_id, "removed_at": ad.removed_at.isoformat(), "removal": ad.removal,
        }))
        fields["removed_at"], fields["removal"] = None, ""
    contacts_before = ad.contact_keys()
    for name, value in fields.items():
        setattr(ad, name, value)
    ad.save()
    if changed:
        detail: dict[str, Any] = {"run": run_id}
        if version is not None:
            detail["earlier_version"] = version.number
        events.append(AuditEvent(action="ad.updated", ad=ad, detail=detail))
    return _Written(ad, "updated" if changed else "unchanged", contacts_before, text_changed,
                    reappeared)


def _group_copies(written: list[_Written]) -> None:
    """Put each new or changed ad in a group with its near-copies."""
    new = [w.ad for w in written if w.new]
    if new:
        link_new_copies(new)
        # A later ad of the batch may have merged an earlier one's group.
        groups = dict(Ad.objects.filter(pk__in=[ad.pk for ad in new])
                      .values_list("pk", "duplicate_group_id"))
        for ad in new:
            ad.duplicate_group_id = groups[ad.pk]
    for w in written:
        if w.outcome == "updated":
            link_copies(w.ad)


def _queued_always(written: list[_Written], items: list[dict[str, Any]]) -> set[int]:
    """The ads whose item asks to be queued whatever its score (``"queue_always": True``: an ad
    an officer submitted by hand, ``review_ui.intake.submissions``)."""
    return {w.ad.pk for w, item in zip(written, items, strict=True) if item.get("queue_always")}


def _record_verdicts(written: list[_Written], items: list[dict[str, Any]]) -> set[int]:
    """Write the verdicts of new ads, of changed ones and of those the model scored anew
    (another model version); the ids of the ads given one."""
    verdicts = {}
    for w, item in zip(written, items, strict=True):
        data, current = item.get("verdict"), w.ad.verdict
        if data and (current is None or w.outcome != "unchanged"
                     or current.model_version != data["model_version"]):
            verdicts[w.ad.pk] = _new_verdict(w.ad, data)
    Verdict.objects.bulk_create(verdicts.values())
    for w in written:
        if w.ad.pk in verdicts:
            w.ad.verdict = verdicts[w.ad.pk]
    return set(verdicts)


def _flagged(ad: Ad) -> bool:
    return bool(ad.verdict_id and ad.verdict and ad.verdict.label)


def _request_screenshots(written: list[_Written], was_flagged: set[int],
                         run_id: int | None) -> None:
    """A capture of each ad flagged now that was not before, and of each flagged ad a re-check
    crawl found still up (``review_ui.store.screenshots``)."""
    flagged = [w.ad for w in written if _flagged(w.ad)]
    newly = [(ad, "flagged") for ad in flagged if ad.pk not in was_flagged]
    still = [ad for ad in flagged if ad.pk in was_flagged]
    if still and is_recheck_run(run_id):
        newly += [(ad, "recheck") for ad in still]
    request_screenshots(newly)


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        return value
    parsed = parse_datetime(str(value))
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


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
    if item.get("config_hash"):
        fields["config_hash"] = str(item["config_hash"])[:64]
    if run_id is not None:
        fields["crawl_run_id"] = run_id
    if item.get("region"):
        fields["region"] = str(item["region"]).strip()[:100]
    fields.update(place_fields(fields["title"], text, str(item.get("region") or ""),
                               default_region(source.config)))
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


def _save_verdicts_and_shares(ads: list[Ad]) -> None:
    """Save the ads' ``verdict`` and ``contact_shares`` (one prepared statement: the ORM's
    ``bulk_update`` spent longer building its CASE expression than the database running it)."""
    if not ads:
        return
    quote = connection.ops.quote_name
    column = {name: quote(Ad._meta.get_field(name).column)
              for name in ("verdict", "contact_shares", "id")}
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {quote(Ad._meta.db_table)} SET {column['verdict']} = %s, "
            f"{column['contact_shares']} = %s WHERE {column['id']} = %s",
            [(ad.verdict_id, ad.contact_shares, ad.pk) for ad in ads],
        )
