from django import template
from django.utils.translation import gettext_lazy as _

register = template.Library()

CATEGORY_LABELS = {
    "open_tutoring": _("open tutoring"),
    "tuoguan": _("after-school care (托管)"),
    "study_room": _("study room (自习室)"),
    "housekeeping": _("housekeeping / live-in tutor"),
    "crowdfunded": _("crowdfunded private teacher"),
    "camp": _("camp / study trip (研学)"),
    "consulting_rebrand": _("consulting / quality-education rebrand"),
    "online": _("online classes"),
    "inservice_teacher": _("in-service teacher"),
    "recruitment": _("teacher recruitment"),
    "preschool": _("preschool subject teaching"),
    "pure_care": _("pure care"),
    "non_subject": _("non-subject training"),
    "adult": _("adult training"),
    "school_service": _("school after-school service"),
    "news_or_notice": _("news or notice"),
    "inquiry": _("parent inquiry"),
    "unrelated": _("unrelated"),
}


@register.filter
def category_label(value: str) -> str:
    return CATEGORY_LABELS.get(value, value or "—")


@register.filter
def get_item(mapping: dict, key: str):
    return mapping.get(key)


@register.filter
def evidence_text(piece) -> str:
    """The words of one piece of evidence: a span's text, or a plain term."""
    return piece.get("text", "") if isinstance(piece, dict) else str(piece)
