"""The contact index: which ads carry each phone and WeChat id
(:class:`~review_ui.models.AdContact`), and every ad's count of other ads sharing one with it
(``Ad.contact_shares``), which the queue's priority weighs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db.models import F, Q

from review_ui.models import Ad, AdContact

ContactKey = tuple[str, str]  # (channel: AdContact.PHONE or AdContact.WECHAT, value)

# Past this many neighbours a contact is a hub (a platform's service number): their share
# counts still change, but refreshing each one's priority would cost more than the 0.1%
# it moves them.
REPRIORITIZE_LIMIT = 200


def _holders(keys: set[ContactKey]) -> dict[ContactKey, set[int]]:
    """The ads indexed under each of ``keys``."""
    if not keys:
        return {}
    match = Q()
    for channel in {channel for channel, _ in keys}:
        match |= Q(kind=channel, value__in=sorted(value for c, value in keys if c == channel))
    holders: dict[ContactKey, set[int]] = defaultdict(set)
    for ad_id, channel, value in AdContact.objects.filter(match).values_list("ad_id", "kind",
                                                                             "value"):
        if (channel, value) in keys:
            holders[channel, value].add(ad_id)
    return holders


def _sharing(ad_id: int, keys: Iterable[ContactKey],
             holders: dict[ContactKey, set[int]]) -> set[int]:
    return set().union(*(holders.get(key, ()) for key in keys)) - {ad_id}


def index_contacts(ads: list[tuple[Ad, set[ContactKey], bool]]) -> set[int]:
    """Bring the index and the share counts up to date with the contacts of ``ads``: (ad, the
    contact keys it had, whether it was created in this transaction and has no index rows).

    Each ad's ``contact_shares`` is set (not saved); the other ads sharing a contact gained or
    lost by these ads are counted up or down in the database. Returns the ids of the ads whose
    share count changed, leaving out those of an ad with more than ``REPRIORITIZE_LIMIT``
    changes (a hub contact)."""
    moved = [(ad, old, ad.contact_keys(), new) for ad, old, new in ads]
    moved = [(ad, old, keys, new) for ad, old, keys, new in moved if keys != old]
    if not moved:
        return set()
    before = _holders(set().union(*(old for _, old, _, _ in moved)))
    replaced = [ad.pk for ad, _, _, new in moved if not new]
    if replaced:
        AdContact.objects.filter(ad_id__in=replaced).delete()
    AdContact.objects.bulk_create(
        AdContact(ad_id=ad.pk, kind=channel, value=value)
        for ad, _, keys, _ in moved for channel, value in sorted(keys)
    )
    after = _holders(set().union(*(keys for _, _, keys, _ in moved)))

    batch = {ad.pk for ad, _, _, _ in moved}  # their own counts are set here, not counted
    counted: dict[int, int] = defaultdict(int)  # another ad -> how its count moves
    changed: set[int] = set()
    for ad, old, keys, _ in moved:
        was, now = _sharing(ad.pk, old, before), _sharing(ad.pk, keys, after)
        for other in now - was - batch:
            counted[other] += 1
        for other in was - now - batch:
            counted[other] -= 1
        ad.contact_shares = len(now)
        if len(was ^ now) <= REPRIORITIZE_LIMIT:
            changed |= was ^ now
    by_step: dict[int, list[int]] = defaultdict(list)
    for other, step in counted.items():
        if step:
            by_step[step].append(other)
    for step, ids in by_step.items():
        Ad.objects.filter(pk__in=ids).update(contact_shares=F("contact_shares") + step)
    return changed
