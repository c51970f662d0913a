"""The one place where a crawled ad enters the store and, when flagged, the review queue.

The crawler calls :func:`submit` for every item (through its store pipeline), and
:func:`start_run` / :func:`finish_run` around every crawl. ``submit`` is an upsert by URL: a
re-crawl updates an ad, never duplicates it, and a new verdict is written only when the text or
the model changed.

An item may carry ``region`` (the area a site shows, such as ``长沙-雨花区``); a re-crawl without
it keeps the region already stored. ``submit`` also keeps the contact index (``AdContact``) and
every ad's count of other ads sharing a contact, which the queue's priority uses.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from review_ui.models import (
    Ad,
    AdContact,
    AuditEvent,
    CrawlRun,
    ReviewItem,
    Source,
    Verdict,
    priority,
)

# Past this many neighbours a contact is a hub (a platform's service number): their share
# counts still change, but refreshing each one's priority would cost more than the 0.1%
# it moves them.
REPRIORITIZE_LIMIT = 200


class StoreNotReady(RuntimeError):
    """The database cannot be reached or is not migrated."""


@dataclass(frozen=True)
class SubmitResult:
    ad_id: int
    outcome: str  # "new", "updated" or "unchanged"
    flagged: bool
    queued: bool  # a review item was created by this call


def check_store() -> None:
    """Fail early, with a clear message, when the store cannot take ads."""
    try:
        Ad.objects.exists()
    except DatabaseError as exc:
        raise StoreNotReady(
            f"the database is not ready ({exc}); run `tutorwatch migrate` first"
        ) from exc


def _source(name: str, config: dict[str, Any] | None = None, path: str = "") -> Source:
    source, created = Source.objects.get_or_create(
        name=name, defaults={"kind": (config or {}).get("kind", ""), "config": config or {}}
    )
    stale = source.config != config or source.config_path != path
    if config is not None and not created and stale:
        source.config, source.kind, source.config_path = config, config.get("kind", ""), path or ""
        source.save(update_fields=["config", "kind", "config_path", "updated_at"])
    elif created and path:
        source.config_path = path
        source.save(update_fields=["config_path"])
    return source


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        return value
    parsed = parse_datetime(str(value))
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def submit(item: dict[str, Any], run_id: int | None = None) -> SubmitResult:
    """Store one crawled ad and its verdict; queue it for review when flagged."""
    try:
        with transaction.atomic():
            return _submit(item, run_id)
    except IntegrityError:
        # Another process inserted the same URL between our read and write: it is an update now.
        with transaction.atomic():
            return _submit(item, run_id)


def _submit(item: dict[str, Any], run_id: int | None) -> SubmitResult:
    source = _source(item["source"])
    raw = item.get("raw_body") or b""
    text = item.get("body_text") or item.get("text") or ""
    fields = {
        "source": source,
        "title": (item.get("title") or "")[:500],
        "text": text,
        "posted_at": _when(item.get("posted_at")),
        "posted_at_raw": (item.get("posted_at_raw") or "")[:100],
        "fetched_at": _when(item.get("fetched_at")) or timezone.now(),
        "phones": list(item.get("phones") or []),
        "wechat_ids": list(item.get("wechat_ids") or []),
        "contact_raw": item.get("contact_raw") or "",
        "raw_page": bytes(raw),
        "raw_sha256": hashlib.sha256(raw).hexdigest() if raw else "",
        "raw_content_type": (item.get("raw_content_type") or "")[:200],
        "raw_encoding": (item.get("raw_encoding") or "")[:50],
        "text_sha256": hashlib.sha256(f"{item.get('title', '')}\n{text}".encode()).hexdigest(),
    }
    if run_id is not None:
        fields["crawl_run_id"] = run_id
    if item.get("region"):
        fields["region"] = str(item["region"]).strip()[:100]

    ad = Ad.objects.select_for_update().filter(url=item["url"]).first()
    if ad is None:
        ad = Ad.objects.create(url=item["url"], **fields)
        outcome = "new"
        old_keys: set[tuple[str, str]] = set()
        AuditEvent.record(None, "ad.created", ad=ad, detail={"run": run_id})
    else:
        changed = ad.text_sha256 != fields["text_sha256"] or ad.raw_sha256 != fields["raw_sha256"]
        outcome = "updated" if changed else "unchanged"
        old_keys = ad.contact_keys()
        for name, value in fields.items():
            setattr(ad, name, value)
        ad.save()
        if changed:
            AuditEvent.record(None, "ad.updated", ad=ad, detail={"run": run_id})
    shares_changed = _index_contacts(ad, old_keys)

    verdict_data = item.get("verdict")
    verdict = ad.verdict
    if verdict_data and (
        verdict is None or outcome != "unchanged"
        or verdict.model_version != verdict_data["model_version"]
    ):
        verdict = Verdict.objects.create(
            ad=ad,
            score=float(verdict_data["score"]),
            label=bool(verdict_data["label"]),
            category=(verdict_data.get("category") or "")[:32],
            evidence=list(verdict_data.get("evidence") or []),
            model_version=str(verdict_data["model_version"])[:100],
        )
        ad.verdict = verdict
        ad.save(update_fields=["verdict"])

    flagged = bool(verdict and verdict.label)
    queued = False
    if verdict is not None:
        existing = ReviewItem.objects.filter(ad=ad).first()
        if existing is None and flagged:
            item_row = ReviewItem.objects.create(ad=ad, priority=item_priority(ad, verdict.score))
            AuditEvent.record(None, "item.queued", ad=ad, item=item_row,
                              detail={"score": verdict.score})
            queued = True
        elif existing is not None and existing.status == ReviewItem.Status.PENDING:
            wanted = item_priority(ad, verdict.score)
            if existing.priority != wanted:
                existing.priority = wanted
                existing.save(update_fields=["priority", "updated_at"])
    if shares_changed and len(shares_changed) <= REPRIORITIZE_LIMIT:
        reprioritize(shares_changed)
    return SubmitResult(ad_id=ad.pk, outcome=outcome, flagged=flagged, queued=queued)


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


def _index_contacts(ad: Ad, old_keys: set[tuple[str, str]]) -> set[int]:
    """Bring the contact index and the share counts up to date with ``ad``'s contacts.

    Returns the ids of the other ads whose share count changed."""
    new_keys = ad.contact_keys()
    if new_keys == old_keys:
        return set()
    before = _neighbours(old_keys, ad.pk)
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


def reprioritize(ad_ids: set[int]) -> int:
    """Recompute the priority of the pending review items of these ads."""
    items = list(
        ReviewItem.objects.filter(ad_id__in=ad_ids, status=ReviewItem.Status.PENDING)
        .select_related("ad", "ad__verdict")
    )
    for row in items:
        row.priority = item_priority(row.ad, row.ad.verdict.score if row.ad.verdict else 0.0)
    ReviewItem.objects.bulk_update(items, ["priority"])
    return len(items)


def start_run(config: dict[str, Any], path: str | None = None) -> int:
    """Record the start of a crawl of one source; returns the run's id."""
    source = _source(config["name"], config, path or "")
    return CrawlRun.objects.create(source=source).pk


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def finish_run(run_id: int, stats: dict[str, Any], reason: str) -> CrawlRun:
    """Record how a crawl ended, with its Scrapy stats."""
    run = CrawlRun.objects.get(pk=run_id)
    run.finished_at = timezone.now()
    run.finish_reason = reason
    if reason == "finished":
        run.status = CrawlRun.Status.FINISHED
    elif reason in ("shutdown", "cancelled"):
        run.status = CrawlRun.Status.INTERRUPTED
    else:
        run.status = CrawlRun.Status.FAILED
    run.pages = int(stats.get("response_received_count", 0))
    run.items = int(stats.get("item_scraped_count", 0))
    run.new_ads = int(stats.get("tutorwatch/items/stored/new", 0))
    run.flagged = int(stats.get("tutorwatch/items/flagged", 0))
    run.errors = int(stats.get("log_count/ERROR", 0))
    run.stats = _jsonable(stats)
    run.save()
    return run
