"""Batch decisions: one decision on several items that share a phone or WeChat id, into one case.

An officer who sees that five ads carry the same phone decides them together: one decision,
one reason, one note, and (for an escalation) one case, opened or named by its number. Each
item is decided by ``ReviewItem.decide`` (a single item is a batch of one, the rule is written
once), all in one transaction: when one item was decided or claimed by someone else meanwhile,
nothing is stored. The batch itself is one more audit row (``items.batch_decided``) naming the
group and its items.

Groups are looked up by kind in ``GROUPS``: ``phone``, ``wechat`` and ``operator`` (the ads an
operator of ``review_ui.operators`` holds, named by its id). The pages and the form take any
registered kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from review_ui.models import (
    AdContact,
    AuditEvent,
    Case,
    Decision,
    InvalidDecision,
    ReviewItem,
    case_for_decision,
    check_reason,
)

# More items than this in one batch are refused: a contact shared by hundreds of ads is a
# platform's switchboard, not one provider, and wants a look at each ad.
MAX_BATCH = 200


@dataclass(frozen=True)
class Group:
    """A kind of batch: its label for the pages and the review items of one of its values."""

    label: Callable[[], str] | str
    items: Callable[[str], QuerySet[ReviewItem]]


GROUPS: dict[str, Group] = {}


def register_group(kind: str, label, items: Callable[[str], QuerySet[ReviewItem]]) -> None:
    """Make ``kind`` a way of batching: ``items(value)`` returns the review items of the group
    ``value`` names (any status; the batch takes the pending ones the officer ticks)."""
    GROUPS[kind] = Group(label=label, items=items)


def _contact_items(channel: str) -> Callable[[str], QuerySet[ReviewItem]]:
    def items(value: str) -> QuerySet[ReviewItem]:
        ads = AdContact.objects.filter(kind=channel, value=value[:64]).values("ad_id")
        return ReviewItem.objects.filter(ad_id__in=ads)

    return items


register_group(AdContact.PHONE, _("phone"), _contact_items(AdContact.PHONE))
register_group(AdContact.WECHAT, _("WeChat id"), _contact_items(AdContact.WECHAT))


def _operator_items(value: str) -> QuerySet[ReviewItem]:
    if not value.isascii() or not value.isdigit():
        return ReviewItem.objects.none()
    return ReviewItem.objects.filter(ad__operator_link__operator_id=int(value))


OPERATOR = "operator"
register_group(OPERATOR, pgettext_lazy("operators", "operator"), _operator_items)


def group_labels() -> dict[str, str]:
    """Each kind's label, for the audit page."""
    return {kind: str(group.label) for kind, group in GROUPS.items()}


def group_items(kind: str, value: str) -> QuerySet[ReviewItem]:
    """The review items of one group; KeyError for a kind that is not registered."""
    return GROUPS[kind].items(value)


def decide_batch(officer, kind: str, value: str, item_ids: list[int], decision: str,
                 reason: str, note: str = "", case_number: str = "") -> tuple[list[Decision],
                                                                             Case | None]:
    """Decide the items ``item_ids`` of the group (``kind``, ``value``) alike, in one
    transaction. An escalation puts them all in one case: the one ``case_number`` names, else
    a new one. Raises InvalidDecision (nothing stored) for a bad decision, an unknown case, no
    items, too many, or an item outside the group; AlreadyDecided or ClaimedByOther (nothing
    stored) when an item is no longer open to this officer."""
    check_reason(decision, reason)
    wanted = sorted(set(item_ids))
    if not wanted:
        raise InvalidDecision(gettext("Choose at least one item."))
    if len(wanted) > MAX_BATCH:
        raise InvalidDecision(gettext("At most %(n)d items can be decided together.")
                              % {"n": MAX_BATCH})
    case = case_for_decision(decision, case_number)
    with transaction.atomic():
        items = list(group_items(kind, value).filter(pk__in=wanted).order_by("pk"))
        if len(items) != len(wanted):
            raise InvalidDecision(gettext("An item chosen is not one of this group's."))
        if decision == ReviewItem.Status.ESCALATED and case is None:
            case = Case.objects.create(opened_by=officer, note=note)
        made = [item.decide(officer, decision, note, reason=reason, case=case)
                for item in items]
        detail = {"group_kind": kind, "group_value": value, "decision": decision,
                  "reason": reason, "note": note, "items": [item.pk for item in items]}
        if case is not None:
            detail["case"] = case.number
        AuditEvent.record(officer, "items.batch_decided", detail=detail)
    return made, case
