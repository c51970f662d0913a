"""Cases: the case page (its items and ads) and its evidence sheet (``review_ui.evidence``).

Whoever may see the queue may see a case, as the ad pages show every item's case number; the
evidence sheet is an export, for those who may export cases, and is itself an audit row."""

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import pgettext
from django.views.decorators.http import require_GET

from review_ui import evidence
from review_ui.auth import QUEUE_PERMISSION as VIEW_PERMISSION
from review_ui.models import Case, ReviewItem, Screenshot
from review_ui.roles import EXPORT_CASES_PERMISSION


@require_GET
@permission_required(VIEW_PERMISSION, raise_exception=True)
def case_detail(request: HttpRequest, case_id: int) -> HttpResponse:
    case = get_object_or_404(Case.objects.select_related("opened_by"), pk=case_id)
    items = list(ReviewItem.objects.filter(case=case)
                 .select_related("ad", "ad__source", "ad__verdict", "decided_by")
                 .defer("ad__raw_page", "ad__text").order_by("ad__first_seen_at", "pk"))
    captured = set(Screenshot.objects.filter(ad__in=[i.ad_id for i in items],
                                             status=Screenshot.Status.OK)
                   .values_list("ad_id", flat=True))
    return render(request, "review_ui/case.html", {
        "case": case, "rows": [(item, item.ad_id in captured) for item in items],
        "can_export": request.user.has_perm(EXPORT_CASES_PERMISSION),
    })


@require_GET
@permission_required(VIEW_PERMISSION, raise_exception=True)
@permission_required(EXPORT_CASES_PERMISSION, raise_exception=True)
def evidence_pdf(request: HttpRequest, case_id: int) -> HttpResponse:
    """The case's evidence sheet as a PDF download; a 503 page saying why when Chromium is
    missing or fails (nothing is recorded then)."""
    case = get_object_or_404(Case, pk=case_id)
    try:
        sheet = evidence.build(case, request.user)
    except evidence.EvidenceError as exc:
        return render(request, "review_ui/error.html", {
            "title": pgettext("evidence", "The evidence sheet could not be made"),
            "message": str(exc), "status": 503,
        }, status=503)
    response = HttpResponse(sheet.pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{case.number}-evidence.pdf"'
    response["X-Content-Type-Options"] = "nosniff"
    response["X-Evidence-Data-SHA256"] = sheet.data_sha256
    return response
