"""The screenshots of an ad on its page: the latest capture, the attempts that failed and why,
and the image itself (``review_ui.capture`` takes them).

The image is served only to users who may open the ad (the queue's view permission), as the
PNG the worker stored, under a Content-Security-Policy that allows nothing, with its SHA-256 in
the file name, so a saved copy can be checked against the ad page and the audit log
(``ad.captured``).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from review_ui.auth import QUEUE_PERMISSION as VIEW_PERMISSION
from review_ui.models import Ad, Screenshot

ATTEMPTS_SHOWN = 5


def screenshot_context(ad: Ad) -> dict[str, Any]:
    """The ad page's screenshot part: ``screenshot`` (latest ok capture, or None) and
    ``capture_attempts`` (the latest requests, newest first, without their images; a failed
    one with ``reason_label``, its reason said for an officer)."""
    attempts = list(Screenshot.objects.filter(ad=ad).defer("image")
                    .order_by("-requested_at", "-pk")[:ATTEMPTS_SHOWN])
    for shot in attempts:
        shot.reason_label = reason_label(shot.reason) if shot.reason else ""
    return {"screenshot": Screenshot.latest_for(ad), "capture_attempts": attempts}


def reason_label(reason: str) -> str:
    """What a stored failure (``code: detail``, ``review_ui.capture``) means, in the user's
    language; the detail itself is shown beside it as recorded."""
    code = reason.split(":", 1)[0].strip()
    if code.startswith("http_") and code[5:].isdigit():
        return _("the site answered HTTP %(status)s") % {"status": code[5:]}
    labels = {
        "timeout": _("the page did not load in time"),
        "blocked": _("the page is outside the ad's site or on an inside network"),
        "dns": _("the site's name does not resolve"),
        "browser": _("the browser failed on the page"),
        "no_browser": _("no browser is installed"),
        "interrupted": _("the capture worker stopped during the capture"),
    }
    return labels.get(code, _("the capture failed"))


def png_response(shot: Screenshot) -> HttpResponse:
    """The stored PNG, as nothing but an image."""
    response = HttpResponse(bytes(shot.image), content_type="image/png")
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=3600"
    response["Content-Disposition"] = (
        f'inline; filename="ad-{shot.ad_id}-screenshot-{shot.sha256[:12]}.png"')
    return response


@require_GET
@permission_required(VIEW_PERMISSION, raise_exception=True)
def screenshot_image(request: HttpRequest, ad_id: int, shot_id: int) -> HttpResponse:
    shot = get_object_or_404(Screenshot, pk=shot_id, ad_id=ad_id, status=Screenshot.Status.OK)
    return png_response(shot)
