from django import template

from review_ui.reasons import CATEGORY_LABELS

register = template.Library()



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


@register.filter
def percent(value: float | None) -> str:
    """A proportion as a whole percentage ("83%"); "—" for none."""
    return "—" if value is None else f"{100 * value:.0f}%"
