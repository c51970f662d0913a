"""``{% submission_panel ad %}``: on the ad page, what an officer who submitted the ad told
(platform, where and when seen) and its pictures; nothing for a crawled ad."""

from __future__ import annotations

from typing import Any

from django import template

from review_ui.models import Submission, SubmissionImage

register = template.Library()


@register.inclusion_tag("review_ui/intake/ad_panel.html")
def submission_panel(ad: Any) -> dict[str, Any]:
    submission = Submission.objects.select_related("submitted_by").filter(ad=ad).first()
    images = (list(SubmissionImage.objects.filter(submission=submission)
                   .defer("image").order_by("position")) if submission else [])
    return {"submission": submission, "images": images}
