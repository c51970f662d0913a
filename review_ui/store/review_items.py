"""Review items: one per group of copies, ranked by priority.

A flagged ad is queued for review unless its group of near-copies (``review_ui.duplicates``)
has an item already: then it is linked to that item and raises its priority. An ad already
queued keeps its item, whose priority follows the ad's latest verdict while it is pending.

The exploration sample: of the new ads the model does not flag, a share
(``TUTORWATCH_SAMPLE_RATE``) is queued too, marked ``sample`` with the rate it was drawn at, so
that officers' decisions on them measure what the model misses (review_ui/estimates.py). The
draw is a hash of the URL, so a crawl that is killed and resumed draws the same ads. A sample
is ranked as an ad scoring at the threshold would be, among the borderline flags, where
officers reach it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection

from django.conf import settings
from django.db.models import F, Max

from review_ui.models import Ad, AuditEvent, ReviewItem, Verdict, priority


def item_priority(ad: Ad, score: float) -> float:
    from review_ui.operators.summary import operator_bonus  # operators with confirmed violations

    return priority(score, ad.posted_at or ad.first_seen_at, ad.contact_shares) + operator_bonus(ad)


def sample_rate() -> float:
    return float(getattr(settings, "TUTORWATCH_SAMPLE_RATE", 0.03))


def _threshold() -> float:
    from review_ui.ordering import model_threshold

    return model_threshold()


def drawn(url: str, rate: float) -> bool:
    """Whether the exploration sample draws the ad at ``url``: a uniform draw from its URL's
    hash, the same on every try."""
    if rate <= 0:
        return False
    draw = int.from_bytes(hashlib.sha256(url.encode()).digest()[:8], "big") / 2**64
    return draw < rate


def queue_flagged(ads: list[Ad], new: list[bool], events: list[AuditEvent],
                  always: Collection[int] = ()) -> list[tuple[bool, bool]]:
    """Queue or link the flagged ones of ``ads`` (their verdicts and groups set; ``new``: each
    one was created in this transaction), and bring the priority of their pending items up to
    date. Returns (queued, linked to its group's item) for each ad; the audit rows of the items
    queued go to ``events``, for the caller to write last. The ads whose ids are in ``always``
    (submitted by officers) are queued or linked as flagged ones are, whatever their score."""
    from review_ui.operators.summary import annotate_operator_confirmed

    annotate_operator_confirmed(ads)  # item_priority's operator bonus, one query for the batch
    stored = [ad for ad, created in zip(ads, new, strict=True)
              if not created and ad.verdict is not None]
    own = ({row.ad_id: row for row in ReviewItem.objects.filter(ad__in=stored)}
           if stored else {})

    def queueable(ad: Ad) -> bool:
        return ad.verdict is not None and (bool(ad.verdict.label) or ad.pk in always)

    flagged = [ad for ad in ads if queueable(ad)]
    groups = {ad.duplicate_group_id for ad in flagged if ad.pk not in own} - {None}
    group_items: dict[int, ReviewItem] = {}
    if groups:
        for row in (ReviewItem.objects.select_for_update()
                    .filter(ad__duplicate_group_id__in=groups)
                    .exclude(status=ReviewItem.Status.MERGED)
                    .annotate(group=F("ad__duplicate_group_id")).order_by("created_at", "pk")):
            group_items.setdefault(row.group, row)

    queued: list[ReviewItem] = []
    raised: dict[int, ReviewItem] = {}  # stored group items whose priority a copy raised
    outcomes = []
    rate, threshold = sample_rate(), None
    for ad, created in zip(ads, new, strict=True):
        verdict, mine = ad.verdict, own.get(ad.pk)
        group_item = group_items.get(ad.duplicate_group_id) if ad.duplicate_group_id else None
        outcome = (False, False)
        if verdict is None:
            pass
        elif mine is not None:
            if mine.sample and threshold is None:
                threshold = _threshold()
            # A sample keeps its place among the borderline flags while its score stays below.
            wanted = item_priority(ad, max(verdict.score, threshold) if mine.sample
                                   else verdict.score)
            changed = ["score"] if mine.score != verdict.score else []
            mine.score = verdict.score  # the queue's score orders read it (ReviewItem.score)
            if mine.status == ReviewItem.Status.PENDING and mine.priority != wanted:
                mine.priority = wanted
                changed += ["priority", "updated_at"]
            if changed:
                mine.save(update_fields=changed)
        elif not queueable(ad):
            if created and drawn(ad.url, rate):
                if threshold is None:
                    threshold = _threshold()
                queued.append(ReviewItem(ad=ad, sample=True, sample_rate=rate,
                                         priority=item_priority(ad, threshold),
                                         score=verdict.score))
        elif group_item is None:
            row = ReviewItem(ad=ad, priority=item_priority(ad, verdict.score),
                             score=verdict.score)
            queued.append(row)
            if ad.duplicate_group_id is not None:
                group_items[ad.duplicate_group_id] = row
            outcome = (True, False)
        else:
            # One review item per group: the copy is linked to it, and raises its priority.
            outcome = (False, True)
            wanted = item_priority(ad, verdict.score)
            if group_item.status == ReviewItem.Status.PENDING and group_item.priority < wanted:
                group_item.priority = wanted
                if group_item.pk is not None:
                    raised[group_item.pk] = group_item
        outcomes.append(outcome)
    ReviewItem.objects.bulk_create(queued)
    events.extend(AuditEvent(action="item.queued", ad=row.ad, item=row,
                             detail={"score": row.ad.verdict.score,
                                     **({"sample": True} if row.sample else {})})
                  for row in queued)
    for row in raised.values():
        row.save(update_fields=["priority", "updated_at"])
    return outcomes


def reprioritize(ad_ids: set[int]) -> int:
    """Recompute the priority of the pending review items of these ads."""
    items = list(
        ReviewItem.objects.filter(ad_id__in=ad_ids, status=ReviewItem.Status.PENDING)
        .select_related("ad", "ad__verdict")
        # What the priority needs: not the ad's text or stored page.
        .only("priority", "sample", "ad__posted_at", "ad__first_seen_at", "ad__contact_shares",
              "ad__duplicate_group", "ad__verdict__score")
    )
    from review_ui.operators.summary import annotate_operator_confirmed

    annotate_operator_confirmed(row.ad for row in items)
    threshold = _threshold() if any(row.sample for row in items) else 0.0
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
        if row.sample:  # ranked among the borderline flags while its score stays below
            score = max(score, threshold)
        row.priority = item_priority(row.ad, score)
    ReviewItem.objects.bulk_update(items, ["priority"])
    return len(items)

