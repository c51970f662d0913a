"""The snapshot viewer: an ad's stored page for people (issue 20 point 5).

``/ads/N/snapshot/`` shows the text the crawler extracted (title and body), under a banner with
the page's URL, fetch time and SHA-256. ``?as=html`` shows the page as it was, framed under the
same banner; the frame (``?as=frame``) is the stored HTML made inert (``review_ui.snapshot``)
and served under a CSP that lets nothing load. ``?as=source`` is the stored bytes as plain text
(for whoever needs the HTML or JSON itself). Every view is audited as ``ad.snapshot_viewed``
(the frame is part of the page view and is not counted twice).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from review_ui.auth import QUEUE_PERMISSION
from review_ui.models import Ad, AuditEvent
from review_ui.snapshot import FRAME_CSP, inert_page

VIEWS = ("text", "html", "frame", "source")
# Our own page, allowed to frame the inert snapshot of this site and nothing else.
PAGE_CSP_EXTRA = "; frame-src 'self'"


def _decoded(ad: Ad) -> str:
    try:
        return bytes(ad.raw_page).decode(ad.raw_encoding or "utf-8", errors="replace")
    except LookupError:
        return bytes(ad.raw_page).decode("utf-8", errors="replace")


def _guarded(response: HttpResponse, ad: Ad, suffix: str) -> HttpResponse:
    response["X-Content-Type-Options"] = "nosniff"
    response["Referrer-Policy"] = "no-referrer"
    response["Content-Disposition"] = (
        f'inline; filename="ad-{ad.pk}-{ad.raw_sha256[:12]}.{suffix}"')
    return response


@require_GET
@permission_required(QUEUE_PERMISSION, raise_exception=True)
def snapshot(request: HttpRequest, ad_id: int) -> HttpResponse:
    ad = get_object_or_404(Ad.objects.select_related("source"), pk=ad_id)
    view = request.GET.get("as") or "text"
    if view not in VIEWS:
        return HttpResponse(_("Unknown snapshot format."), status=400,
                            content_type="text/plain; charset=utf-8")
    if view == "frame":
        response = HttpResponse(inert_page(_decoded(ad)), content_type="text/html; charset=utf-8")
        response["Content-Security-Policy"] = FRAME_CSP
        response["X-Frame-Options"] = "SAMEORIGIN"
        return _guarded(response, ad, "html")
    AuditEvent.record(request.user, "ad.snapshot_viewed", ad=ad, detail={"as": view})
    if view == "source":
        response = HttpResponse(_decoded(ad), content_type="text/plain; charset=utf-8")
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return _guarded(response, ad, "txt")
    response = render(request, "review_ui/snapshot.html", {
        "ad": ad, "view": view, "has_page": bool(ad.raw_sha256),
    })
    if view == "html":
        response["Content-Security-Policy"] = settings.TUTORWATCH_CSP + PAGE_CSP_EXTRA
    response["Referrer-Policy"] = "no-referrer"
    return response
