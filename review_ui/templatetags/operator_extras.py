"""``{% operator_panel ad %}``: on the ad page, the line naming the ad's operator, linking to
its page (``review_ui.operators``); nothing for an ad not linked yet."""

from __future__ import annotations

from typing import Any

from django import template

from review_ui.operators.summary import queue_lines

register = template.Library()


@register.inclusion_tag("review_ui/operators/ad_panel.html")
def operator_panel(ad: Any) -> dict[str, Any]:
    return {"line": queue_lines([ad.pk]).get(ad.pk)}
