"""Audit details in words for the audit page: ``decision=escalated reason=camp note=`` reads
决定：已升级 · 理由：研学 / 营地.

The stored detail keeps its codes (the CSV export and the hash chain read those); only the page
translates. Keys and values this module does not know are shown as they are, so a new kind of
detail is never hidden, only untranslated.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import pgettext, pgettext_lazy

from review_ui.models import AUDIT_ACTIONS, ReviewItem
from review_ui.reasons import CATEGORY_LABELS


def _(text: str):
    return pgettext_lazy("audit detail", text)


# In the order shown (PostgreSQL's jsonb keeps no order of its own); unknown keys come last.
KEY_LABELS = {
    "from": _("from"), "from_reason": _("former reason"), "to": _("to"),
    "decision": _("decision"), "reason": _("reason"), "note": _("note"), "case": _("case"),
    "decision_id": _("decision no."), "reverses": _("reverses decision no."), "via": _("via"),
    "holder": _("claimed by"), "lead": _("lead"), "ticket": _("ticket"),
    "from_case": _("former case"), "format": _("format"), "rows": _("rows"),
    "filters": _("filters"), "user": _("user"), "user_id": _("user no."),
    "username": _("user name"), "ip": _("IP address"), "fields": _("fields"),
    "groups": _("groups"), "members": _("members"), "role": _("role"), "version": _("version"),
    "score": _("score"), "url": _("address"), "into": _("merged into item"),
    "group": _("group"), "ads": _("ads"), "q": _("search words"), "found": _("found"),
    "run": _("run"), "trigger": _("trigger"), "file": _("file"), "status": _("status"),
    "region": _("region"), "source": _("source"), "category": _("category"),
    "actor": _("user"), "action": _("action"), "ad": _("ad"), "date_from": _("from date"),
    "date_to": _("to date"), "renamed_from": _("former name"), "attempts": _("attempts"),
    "created": _("created"), "already_stored": _("already stored"), "sample": _("sample"),
    "items": _("items"), "group_kind": _("decided together by"), "group_value": _("group value"),
    "by": _("command run by"), "as": _("shown as"), "is_staff": _("may open the admin pages"),
}
# Values of keys that hold codes of their own: the snapshot's views, the roles' groups.
VALUE_LABELS = {
    "as": {"text": _("its text"), "html": _("the page as it was"), "source": _("stored source")},
    "role": {"officers": _("officers"), "supervisors": _("supervisors"), "admins": _("admins")},
}
_STATUS_KEYS = frozenset({"decision", "from", "to", "status"})
_REASON_KEYS = frozenset({"reason", "from_reason", "category"})
_STATUS_LABELS = dict(ReviewItem.Status.choices)
SEPARATOR = " · "


def _value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return pgettext("audit detail", "yes") if value else pgettext("audit detail", "no")
    if isinstance(value, dict):
        return "，".join(_pair(k, v) for k, v in _ordered(value))
    if isinstance(value, list | tuple):
        return "、".join(_value(key, v) for v in value)
    labels = (_STATUS_LABELS if key in _STATUS_KEYS else CATEGORY_LABELS if key in _REASON_KEYS
              else AUDIT_ACTIONS if key == "action" else _group_labels() if key == "group_kind"
              else VALUE_LABELS.get(key, {}))
    return str(labels.get(value, value))


def _group_labels() -> dict[str, str]:
    from review_ui.batch import group_labels

    return group_labels()


def _key(key: str) -> str:
    return str(KEY_LABELS.get(key, key))


def _pair(key: str, value: Any) -> str:
    return pgettext("audit detail", "%(label)s: %(value)s") % {
        "label": _key(key), "value": _value(key, value)}


def describe(detail: Any) -> str:
    """The detail of an audit row as "label：value" pairs; empty values are left out."""
    if not isinstance(detail, dict):
        return "" if detail in (None, "") else str(detail)
    return SEPARATOR.join(_pair(key, value) for key, value in _ordered(detail))


def actor_name(event: Any) -> str:
    """Who acted: the site user; else, for a command (``tutorwatch role``, ``model``,
    ``rescore``), the operating-system user who ran it, stored as ``by``; else the crawler."""
    if event.actor is not None:
        return event.actor.get_username()
    by = event.detail.get("by") if isinstance(event.detail, dict) else None
    if by:
        return pgettext("audit detail", "command line (%(user)s)") % {"user": by}
    return pgettext("audit detail", "crawler")


def _ordered(detail: dict) -> list[tuple[str, Any]]:
    """The non-empty pairs, known keys in KEY_LABELS' order, then the others by name."""
    known = list(KEY_LABELS)
    return sorted(((k, v) for k, v in detail.items() if v not in (None, "", [], {})),
                  key=lambda pair: (known.index(pair[0]) if pair[0] in known else len(known),
                                    pair[0]))
