"""Near-duplicate reposts: the same ad posted many times with small edits becomes one group.

Posters repost an ad under new URLs, changing the phone number, adding emoji, swapping
punctuation or a sentence. Each copy is stored (it is evidence), and copies are linked in one
:class:`~review_ui.models.DuplicateGroup` so that officers review the ad once.

How: the title and text are folded (NFKC, lower case, every digit read as ``0``, everything but
letters and digits dropped), cut into character 3-grams, and summarised by a 128-permutation
MinHash (datasketch). Its 32 bands of 4 values are hashed into keys stored with the ad
(:class:`~review_ui.models.NearDuplicateKey`); ads sharing a key are candidates, and a candidate
is a copy when the exact Jaccard similarity of the two 3-gram sets is at least ``THRESHOLD``.
A group is a connected set of copies: when a new ad is a copy of ads in two groups, the groups
merge (the older one stays), so the grouping does not depend on the order ads arrive in.

The signature functions are plain; :func:`link_copies` (one ad) and :func:`link_new_copies` (the
new ads of a batch) do the database part inside the caller's transaction
(``review_ui.store.ingest``).
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections import Counter
from functools import cache, lru_cache

import numpy as np

NUM_PERM = 128
BANDS = 32
ROWS = NUM_PERM // BANDS
SHINGLE = 3
THRESHOLD = 0.6            # Jaccard similarity of 3-gram sets from which two ads are copies
MIN_SHINGLES = 12          # shorter texts are too short to call copies
MAX_CANDIDATES = 500       # candidates checked exactly per ad (most recent first)
_SEED = 20240601
_SCHEME = "affine32"       # stored keys depend on it: changing it means re-indexing every ad


def fold(title: str, text: str) -> str:
    """The text as copies are compared: letters and digits only, digits all read as 0."""
    folded = unicodedata.normalize("NFKC", f"{title or ''}\n{text or ''}").lower()
    out = []
    for ch in folded:
        category = unicodedata.category(ch)
        if category == "Nd":
            out.append("0")
        elif category[0] in "LN":
            out.append(ch)
    return "".join(out)


def shingles(folded: str) -> set[str]:
    if len(folded) < SHINGLE:
        return {folded} if folded else set()
    return {folded[i:i + SHINGLE] for i in range(len(folded) - SHINGLE + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def _minhash_class():
    # Imported on first use: the datasketch package takes about 2 s to import (it loads SciPy),
    # which the review UI's processes should not pay.
    from datasketch import MinHash

    return MinHash


@lru_cache(maxsize=1)
def _permutations() -> tuple[np.ndarray, np.ndarray]:
    return _minhash_class()(num_perm=NUM_PERM, seed=_SEED, scheme=_SCHEME).permutations


def band_keys(grams: set[str]) -> list[int]:
    """The LSH keys of a 3-gram set: one signed 64-bit integer per band."""
    if not grams:
        return []
    signature = _minhash_class()(num_perm=NUM_PERM, seed=_SEED, permutations=_permutations(),
                                 scheme=_SCHEME)
    signature.update_batch([gram.encode("utf-8") for gram in sorted(grams)])
    values = np.asarray(signature.hashvalues, dtype="<u8")
    keys = []
    for band in range(BANDS):
        digest = hashlib.blake2b(
            values[band * ROWS:(band + 1) * ROWS].tobytes(), digest_size=8,
            person=f"band{band:04d}".encode(),
        ).digest()
        keys.append(int.from_bytes(digest, "big", signed=True))
    return keys


def link_copies(ad, new: bool = False) -> bool:
    """(Re)index ``ad`` and put it in a group with its copies; True when it has any copy.
    ``new``: the ad was created in this transaction, so it has no keys to replace yet.

    Candidates are checked newest first. Once a copy is found in a group, the group's other
    members are not compared (the ad joins that group whatever they say), so an ad reposted a
    hundred times costs about one comparison, not a hundred; ungrouped candidates are each
    compared. Texts are loaded only for the candidates compared.

    Must run inside a transaction: keys, group and merges are written together.
    """
    from review_ui.models import NearDuplicateKey

    grams = shingles(fold(ad.title, ad.text))
    if not new:
        NearDuplicateKey.objects.filter(ad=ad).delete()
    if len(grams) < MIN_SHINGLES:
        return ad.duplicate_group_id is not None
    keys = band_keys(grams)
    _insert_keys([(ad.pk, key) for key in keys])
    return _join_copies(ad, grams, keys, new)


def link_new_copies(ads: list) -> None:
    """``link_copies(ad, new=True)`` for each of ``ads`` in turn: ads created in this
    transaction, in the order they arrived. The keys of all of them are written first, in one
    statement, and each ad is compared with the ads stored before it (the later ones of the
    batch are left out, as if their keys were not written yet): the groups come out as when
    the ads are linked one at a time."""
    prepared = []
    for ad in ads:
        grams = shingles(fold(ad.title, ad.text))
        prepared.append((ad, grams, band_keys(grams) if len(grams) >= MIN_SHINGLES else []))
    rows = [(ad.pk, key) for ad, _, keys in prepared for key in keys]
    _insert_keys(rows)
    # Whether an ad stored before the batch holds each of the batch's keys, read once: the
    # loop below writes groups, never keys, so an ad none of whose keys an ad seen before it
    # holds has no candidate, and is not asked about (most ads of a crawl are no copy). The
    # database counts each key's holders, and those beyond the batch's own rows are ads stored
    # before it: a key common to many stored ads costs one number, not the list of them, which
    # grew with the store and with it the memory of the process that stores.
    in_batch = Counter(key for _, key in rows)
    held_before = {key for key, count in _holder_counts(set(in_batch)).items()
                   if count > in_batch[key]}
    later = {ad.pk for ad, _, keys in prepared if keys}
    seen: set[int] = set()  # the keys of the batch's ads linked so far
    for ad, grams, keys in prepared:
        if keys:
            later.discard(ad.pk)
            if any(key in held_before or key in seen for key in keys):
                _join_copies(ad, grams, keys, True, unseen=later)
            seen.update(keys)


KEY_ROWS_PER_INSERT = 400  # two parameters a row: within SQLite's limit of 999
KEYS_PER_SELECT = 900  # one parameter a key


def _holder_counts(keys: set[int]) -> dict[int, int]:
    """How many ads hold each of ``keys`` (those none holds are left out)."""
    from django.db import connection

    sql = _sql(connection.vendor)
    found: dict[int, int] = {}
    ordered = sorted(keys)
    with connection.cursor() as cursor:
        for start in range(0, len(ordered), KEYS_PER_SELECT):
            chunk = ordered[start:start + KEYS_PER_SELECT]
            cursor.execute(f"SELECT {sql.key}, COUNT(*) FROM {sql.keys} WHERE {sql.key} IN "
                           f"({', '.join(['%s'] * len(chunk))}) GROUP BY {sql.key}", chunk)
            found.update(cursor.fetchall())
    return found


def _insert_keys(rows: list[tuple[int, int]]) -> None:
    """Write (ad, key) rows with as few statements as the database allows (on PostgreSQL each
    statement is a round trip to the server)."""
    from django.db import connection

    sql = _sql(connection.vendor)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), KEY_ROWS_PER_INSERT):
            chunk = rows[start:start + KEY_ROWS_PER_INSERT]
            cursor.execute(
                f"INSERT INTO {sql.keys} ({sql.key_ad}, {sql.key}) VALUES "
                + ", ".join(["(%s, %s)"] * len(chunk)),
                [value for row in chunk for value in row],
            )


def _join_copies(ad, grams: set[str], keys: list[int], new: bool,
                 unseen: set[int] = frozenset()) -> bool:
    """Put ``ad`` (its keys written) in a group with its copies; True when it has any.
    ``unseen``: ads whose keys are written but that must not be candidates yet."""
    from django.db import connection

    from review_ui.models import Ad, DuplicateGroup

    sql = _sql(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {sql.ad_id}, {sql.ad_group} FROM {sql.ads} WHERE {sql.ad_id} IN "
            f"(SELECT {sql.key_ad} FROM {sql.keys} WHERE {sql.key} IN "
            f"({', '.join(['%s'] * len(keys))}) AND {sql.key_ad} <> %s) "
            f"ORDER BY {sql.ad_id} DESC LIMIT %s",
            [*keys, ad.pk, MAX_CANDIDATES + len(unseen)],
        )
        candidates = [row for row in cursor.fetchall() if row[0] not in unseen][:MAX_CANDIDATES]

    joined = {ad.duplicate_group_id} - {None}  # groups the ad belongs with
    loose: list[int] = []  # copies in no group yet
    texts: dict[int, set[str]] = {}
    for position, (pk, group) in enumerate(candidates):
        if group is not None and group in joined:
            continue
        if pk not in texts:
            texts.update(_grams_of(_next_to_compare(candidates, position, joined)))
        other = texts.pop(pk, None)  # None: deleted meanwhile
        if other is None or jaccard(grams, other) < THRESHOLD:
            continue
        if group is None:
            loose.append(pk)
        else:
            joined.add(group)
    if not joined and not loose:
        return False

    if joined:
        target = min(joined)
        absorbed = joined - {target}
        if absorbed:
            Ad.objects.filter(duplicate_group_id__in=absorbed).update(duplicate_group_id=target)
            DuplicateGroup.objects.filter(pk__in=absorbed).delete()
    else:
        target, absorbed = DuplicateGroup.objects.create().pk, set()
    moved = loose + ([ad.pk] if ad.duplicate_group_id != target else [])
    if moved:
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {sql.ads} SET {sql.ad_group} = %s WHERE {sql.ad_id} IN "
                           f"({', '.join(['%s'] * len(moved))})", [target, *moved])
    ad.duplicate_group_id = target
    if absorbed or loose or not new:
        # Items of merged groups, of loose copies or of the ad itself may now share a group.
        # (A new ad joining one group brings no review item: it gets one after this.)
        merge_review_items(target)
    return True


COMPARE_BATCH = 16  # candidate texts loaded per query


def _next_to_compare(candidates: list[tuple[int, int | None]], start: int,
                     joined: set[int]) -> list[int]:
    """The ids of the next few candidates that will be compared (from ``start``): at most one
    per group not yet joined, since a match ends the group's turn, and every ungrouped one."""
    picked, groups = [], set(joined)
    for pk, group in candidates[start:]:
        if group is not None:
            if group in groups:
                continue
            groups.add(group)
        picked.append(pk)
        if len(picked) == COMPARE_BATCH:
            break
    return picked


def _grams_of(ids: list[int]) -> dict[int, set[str]]:
    from django.db import connection

    sql = _sql(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {sql.ad_id}, {sql.ad_title}, {sql.ad_text} FROM {sql.ads} "
                       f"WHERE {sql.ad_id} IN ({', '.join(['%s'] * len(ids))})", ids)
        return {pk: shingles(fold(title, text)) for pk, title, text in cursor.fetchall()}


@cache
def _sql(vendor: str) -> _Sql:
    return _Sql()


class _Sql:
    """Quoted table and column names for the statements :func:`link_copies` runs on every
    stored ad, written as SQL because building them through the ORM cost several times more
    than running them."""

    def __init__(self) -> None:
        from django.db import connection

        from review_ui.models import Ad, NearDuplicateKey

        quote = connection.ops.quote_name
        column = {f"ad_{name}": quote(Ad._meta.get_field(name).column)
                  for name in ("id", "title", "text")}
        self.ads, self.ad_id = quote(Ad._meta.db_table), column["ad_id"]
        self.ad_title, self.ad_text = column["ad_title"], column["ad_text"]
        self.ad_group = quote(Ad._meta.get_field("duplicate_group").column)
        self.keys = quote(NearDuplicateKey._meta.db_table)
        self.key_ad = quote(NearDuplicateKey._meta.get_field("ad").column)
        self.key = quote(NearDuplicateKey._meta.get_field("key").column)


def merge_review_items(group_id: int) -> None:
    """Keep one review item per group: when groups that each had a pending item become one,
    the item an officer already decided (else the oldest) stays, and the other pending items
    are closed as ``merged`` (with an audit row) and lend it their higher priority."""
    from review_ui.models import AuditEvent, ReviewItem

    items = list(ReviewItem.objects.select_for_update()
                 .filter(ad__duplicate_group_id=group_id)
                 .exclude(status=ReviewItem.Status.MERGED).order_by("created_at", "pk"))
    if len(items) < 2:
        return
    decided = [item for item in items if item.status != ReviewItem.Status.PENDING]
    keep = decided[0] if decided else items[0]
    for item in items:
        if item is keep or item.status != ReviewItem.Status.PENDING:
            continue
        updated = ReviewItem.objects.filter(pk=item.pk, status=ReviewItem.Status.PENDING).update(
            status=ReviewItem.Status.MERGED)
        if updated:
            AuditEvent.record(None, "item.merged", ad=item.ad, item=item,
                              detail={"into": keep.pk, "group": group_id})
            if keep.status == ReviewItem.Status.PENDING and item.priority > keep.priority:
                keep.priority = item.priority
                keep.save(update_fields=["priority", "updated_at"])
