"""The audit log's hash chain: every row carries the hash of the row before it (``prev_hash``)
and its own (``hash``: SHA-256 over ``prev_hash`` and the row's canonical content), so a row
changed, removed or slipped in by writing to the database directly breaks the chain there.

- :func:`seal` links new events to the end of the chain, inside the transaction that inserts
  them (``AuditEvent.save()`` and ``AuditEvent.objects.bulk_create`` call it). On PostgreSQL it
  first takes a transaction-level advisory lock, held until commit, so writers on many machines
  append one after another and no two rows share a ``prev_hash`` (a unique constraint refuses
  a fork in any case). The lock serialises every transaction that writes an audit row from that
  row to its commit: write audit rows late in a transaction. SQLite serialises writers itself
  (tutorwatch opens its transactions ``IMMEDIATE``). Both need READ COMMITTED or SQLite's own
  isolation, so that the head read after the lock is the last committed row.
- :func:`verify` walks the chain in pk order, a chunk at a time, and reports the first bad row.

The canonical content of a row is JSON of ``at`` (UTC, ISO 8601 to the microsecond), ``actor``,
``ad`` and ``item`` (ids or null), ``action`` and ``detail`` (as the database gives it back),
keys sorted, separators ``,`` and ``:``, ASCII with ``\\u`` escapes. The first row's
``prev_hash`` is :data:`GENESIS`.

What a chain cannot show by itself: rows removed from its end, or the whole tail rewritten from
some row on. ``tutorwatch audit verify`` prints the last row's pk and hash; kept elsewhere (a
ticket, a signed note), they show both.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db import connections, models
from django.utils import timezone

GENESIS = "0" * 64
# pg_advisory_xact_lock key shared by every process that appends: "twaudit" in ASCII.
LOCK_KEY = int.from_bytes(b"twaudit", "big")
CHUNK = 5000
FIELDS = ("pk", "at", "actor_id", "action", "ad_id", "item_id", "detail", "prev_hash", "hash")


def canonical(at: datetime, actor_id: int | None, action: str, ad_id: int | None,
              item_id: int | None, detail: Any) -> bytes:
    """A row's content as hashed; ``detail`` as JSON gives it back (see :func:`as_stored`)."""
    return json.dumps(
        {"at": at.astimezone(UTC).isoformat(timespec="microseconds"), "actor": actor_id,
         "action": action, "ad": ad_id, "item": item_id, "detail": _plain(detail)},
        sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False,
    ).encode("ascii")


def link(prev_hash: str, content: bytes) -> str:
    return hashlib.sha256(prev_hash.encode() + content).hexdigest()


def as_stored(value: Any) -> Any:
    """``value`` as the JSON column gives it back: keys as strings, tuples as lists."""
    return json.loads(json.dumps(value))


def _plain(value: Any) -> Any:
    """Numbers the way both stores give them back. PostgreSQL's jsonb keeps a number's decimal
    text, so a float that Python writes with an exponent and no fraction (1e+16, 1.5e+300)
    comes back as an integer, and -0.0 as 0.0."""
    if isinstance(value, float):
        if value == 0:
            return 0.0
        if value.is_integer() and abs(value) >= 1e16:
            return int(Decimal(repr(value)))
        return value
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def content_of(event: models.Model) -> bytes:
    return canonical(event.at, event.actor_id, event.action, event.ad_id, event.item_id,
                     as_stored(event.detail))


def seal(model: type[models.Model], events: Sequence[models.Model], using: str) -> None:
    """Give ``events``, in order, their places at the end of the chain. Call inside the
    transaction (atomic block) that inserts them, right before the insert."""
    connection = connections[using]
    if not connection.in_atomic_block:
        raise RuntimeError("audit events are chained inside a transaction")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
    prev = head(model, using)
    field = model._meta.get_field("at")
    for event in events:
        # Stored as hashed: a naive or string time becomes what the column will hold.
        event.at = field.to_python(event.at)
        if timezone.is_naive(event.at):
            event.at = timezone.make_aware(event.at)
        event.prev_hash = prev
        event.hash = prev = link(prev, content_of(event))


def head(model: type[models.Model], using: str) -> str:
    last = model._base_manager.using(using).order_by("-pk").values_list("hash", flat=True).first()
    return GENESIS if last is None else last


@dataclass(frozen=True)
class Problem:
    pk: int
    at: datetime
    action: str
    what: str


@dataclass(frozen=True)
class Verification:
    checked: int  # rows found good before the first bad one, or all of them
    last_pk: int | None
    last_hash: str
    problem: Problem | None


def verify(model: type[models.Model], using: str = "default", chunk: int = CHUNK) -> Verification:
    """Walk the chain in pk order and stop at the first bad row."""
    rows = model._base_manager.using(using).order_by("pk").values_list(*FIELDS)
    checked, prev_pk, prev_hash = 0, None, GENESIS
    while True:
        batch = list((rows if prev_pk is None else rows.filter(pk__gt=prev_pk))[:chunk])
        if not batch:
            return Verification(checked, prev_pk, prev_hash, None)
        for pk, at, actor_id, action, ad_id, item_id, detail, row_prev, row_hash in batch:
            what = ""
            if not row_hash:
                what = "row not in the chain: it has no hash (inserted outside tutorwatch)"
            elif row_hash != link(row_prev, canonical(at, actor_id, action, ad_id, item_id,
                                                      detail)):
                what = "content changed: its hash does not match its content"
            elif row_prev != prev_hash:
                what = _break(pk, prev_pk)
            if what:
                return Verification(checked, prev_pk, prev_hash, Problem(pk, at, action, what))
            checked, prev_pk, prev_hash = checked + 1, pk, row_hash


def _break(pk: int, prev_pk: int | None) -> str:
    if prev_pk is None:
        return "row missing: the rows before it are gone (its prev_hash is not the chain's start)"
    if pk != prev_pk + 1:
        return (f"row missing: its prev_hash is the hash of no row left; a row between pk "
                f"{prev_pk} and pk {pk} was deleted")
    return (f"chain broken: its prev_hash is not the hash of the row before it (pk {prev_pk}); "
            f"pk {prev_pk} was rewritten with a new hash, or this row's prev_hash was")
