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

The signature functions are plain; :func:`link_copies` does the database part inside the
caller's transaction (``review_ui.queue.submit``).
"""

from __future__ import annotations

import hashlib
import unicodedata
from functools import lru_cache

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

    Must run inside a transaction: keys, group and merges are written together.
    """
    from review_ui.models import Ad, DuplicateGroup, NearDuplicateKey

    grams = shingles(fold(ad.title, ad.text))
    if not new:
        NearDuplicateKey.objects.filter(ad=ad).delete()
    if len(grams) < MIN_SHINGLES:
        return ad.duplicate_group_id is not None
    keys = band_keys(grams)
    NearDuplicateKey.objects.bulk_create(NearDuplicateKey(ad=ad, key=key) for key in keys)
    candidate_ids = (
        NearDuplicateKey.objects.filter(key__in=keys).exclude(ad_id=ad.pk)
        .values_list("ad_id", flat=True).distinct()
    )
    candidates = (Ad.objects.filter(pk__in=list(candidate_ids))
                  .only("pk", "title", "text", "duplicate_group_id")
                  .order_by("-pk")[:MAX_CANDIDATES])
    copies = [c for c in candidates if jaccard(grams, shingles(fold(c.title, c.text))) >= THRESHOLD]
    if not copies:
        return ad.duplicate_group_id is not None

    groups = {c.duplicate_group_id for c in copies if c.duplicate_group_id is not None}
    if ad.duplicate_group_id is not None:
        groups.add(ad.duplicate_group_id)
    if groups:
        target = min(groups)
        absorbed = groups - {target}
        if absorbed:
            Ad.objects.filter(duplicate_group_id__in=absorbed).update(duplicate_group_id=target)
            DuplicateGroup.objects.filter(pk__in=absorbed).delete()
    else:
        target = DuplicateGroup.objects.create().pk
    Ad.objects.filter(pk__in=[c.pk for c in copies] + [ad.pk]).update(duplicate_group_id=target)
    ad.duplicate_group_id = target
    merge_review_items(target)
    return True


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
