"""Officers' decisions as labeled examples, in the corpus format of classifier/data/README.md.

Every decided review item is one example: label 1 when it stands confirmed or escalated, 0 when
dismissed; its category is the reason of that decision (reason codes are the corpus's category
codes, see reasons.py); its text is the ad as it read when the decision was made. The item's
current status is the latest decision, so a reversed decision is replaced by the one that
reversed it, and an item a supervisor reopened is not decided. Left out: items merged into a
copy's item and ``duplicate`` dismissals (they judge the copy, not the text), and ads with no text.

Besides the corpus keys, each example carries where it came from (``url``, ``source``,
``decided_at``, ``decision``, and ``sample``: whether the item was drawn by the exploration sample
rather than flagged) so pooled files can be traced, split by time and weighted by how they were
drawn; the corpus reader ignores those keys.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from classifier.normalize import MAX_CHARS
from review_ui.models import Ad, AdVersion, ReviewItem

# Where a source config names no register, its ads are taken for classified-site posts, the
# register most crawled sources have (crawler/config.py documents the key).
DEFAULT_SOURCE_TYPE = "classified"
LABELS = {
    ReviewItem.Status.CONFIRMED: 1,
    ReviewItem.Status.ESCALATED: 1,
    ReviewItem.Status.DISMISSED: 0,
}


@dataclass
class Tally:
    """What an export wrote and what it left out, and why."""

    written: int = 0
    by_label: Counter = field(default_factory=Counter)
    left_out: Counter = field(default_factory=Counter)
    shortened: int = 0


def decided_items():
    """Items whose latest decision stands, oldest decision first. ``duplicate`` dismissals are
    left out here; merged items have their own status and are never in the list."""
    return (
        ReviewItem.objects.filter(status__in=list(LABELS))
        .exclude(reason="duplicate")
        .select_related("ad", "ad__source")
        .order_by("decided_at", "pk")
    )


def text_when_decided(ad: Ad, when: datetime | None) -> tuple[str, str]:
    """The ad's title and text as they read at ``when``: the ad row holds its latest content,
    seen since its last change; earlier contents are kept as versions with the span they were
    seen in."""
    if when is None or ad.changed_at is None or when >= ad.changed_at:
        return ad.title, ad.text
    version = (
        AdVersion.objects.filter(ad=ad, seen_from__lte=when).order_by("-seen_from", "-number")
        .only("title", "text").first()
    )
    if version is None:  # decided before the first version was seen: the oldest content known
        version = AdVersion.objects.filter(ad=ad).order_by("number").only("title", "text").first()
    return (version.title, version.text) if version is not None else (ad.title, ad.text)


def source_type_of(ad: Ad) -> str:
    config = ad.source.config if isinstance(ad.source.config, dict) else {}
    value = config.get("source_type")
    return value if isinstance(value, str) and value else DEFAULT_SOURCE_TYPE


def examples(tally: Tally | None = None) -> Iterator[dict[str, Any]]:
    """The labeled examples, one per decided item, counting what is left out in ``tally``."""
    tally = tally if tally is not None else Tally()
    for item in decided_items().iterator(chunk_size=500):
        if item.reason not in _categories(item.status):
            tally.left_out["reason does not fit the decision"] += 1
            continue
        title, text = text_when_decided(item.ad, item.decided_at)
        joined = "\n".join(part for part in (title.strip(), text.strip()) if part)
        if not joined:
            tally.left_out["no text"] += 1
            continue
        if len(joined) > MAX_CHARS:  # the classifier reads no further
            joined = joined[:MAX_CHARS]
            tally.shortened += 1
        label = LABELS[item.status]
        tally.written += 1
        tally.by_label[label] += 1
        yield {
            "id": f"decision-{item.pk}",
            "text": joined,
            "label": label,
            "category": item.reason,
            "source_type": source_type_of(item.ad),
            "hard": False,
            "note": f"officer decision: {item.status}",
            "url": item.ad.url,
            "source": item.ad.source.name,
            "decision": item.status,
            "sample": item.sample,  # drawn by the exploration sample, not flagged by the model
            "sample_rate": item.sample_rate,  # the share drawn then (None: not recorded)
            "decided_at": item.decided_at.isoformat() if item.decided_at else None,
        }


def _categories(status: str) -> frozenset[str]:
    from review_ui.reasons import DISMISSAL_CODES, VIOLATION_CODES

    return DISMISSAL_CODES if status == ReviewItem.Status.DISMISSED else VIOLATION_CODES


def write_jsonl(handle: IO[str]) -> Tally:
    tally = Tally()
    for example in examples(tally):
        handle.write(json.dumps(example, ensure_ascii=False) + "\n")
    return tally
