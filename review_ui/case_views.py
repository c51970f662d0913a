"""Cases: the case page (its items and ads, status, officers, notes, audit rows) and its
evidence sheet (``review_ui.evidence``).

Whoever may see the queue may see a case, as the ad pages show every item's case number; whoever
may decide may add a note (``review_ui.case_notes``) without deciding anything; the evidence
sheet is an export, for those who may export cases, and is itself an audit row."""

from __future__ import annotations

from collections import Counter

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext
from django.views.decorators.http import require_GET, require_POST

from review_ui import evidence
from review_ui.audit_detail import describe
from review_ui.auth import QUEUE_PERMISSION as VIEW_PERMISSION
from review_ui.case_notes import MAX_NOTE, CaseNote
from review_ui.models import AuditEvent, Case, Decision, ReviewItem, Screenshot
from review_ui.roles import DECIDE_PERMISSION, EXPORT_CASES_PERMISSION

AUDIT_SHOWN = 200
# Views of the case's ads are many and say nothing about the case; the ad pages list them.
VIEW_ACTIONS = ("ad.viewed", "ad.snapshot_viewed")


class CaseNoteForm(forms.Form):
    text = forms.CharField(label=gettext_lazy("Note"), max_length=MAX_NOTE, strip=True,
                           widget=forms.Textarea(attrs={"rows": 3}))


@require_GET
@permission_required(VIEW_PERMISSION, raise_exception=True)
def case_detail(request: HttpRequest, case_id: int) -> HttpResponse:
    case = get_object_or_404(Case.objects.select_related("opened_by"), pk=case_id)
    return _case_page(request, case, CaseNoteForm())


@require_POST
@permission_required(DECIDE_PERMISSION, raise_exception=True)
def add_note(request: HttpRequest, case_id: int) -> HttpResponse:
    """A note on the case, without a decision; a refused one comes back on the page (400)."""
    case = get_object_or_404(Case.objects.select_related("opened_by"), pk=case_id)
    form = CaseNoteForm(request.POST)
    if not form.is_valid():
        return _case_page(request, case, form, status=400)
    CaseNote.add(case, request.user, form.cleaned_data["text"])
    messages.success(request, _("The note was added to case %(number)s.")
                     % {"number": case.number})
    return redirect("review_ui:case", case_id=case.pk)


def _case_page(request: HttpRequest, case: Case, note_form: CaseNoteForm,
               status: int = 200) -> HttpResponse:
    items = list(ReviewItem.objects.filter(case=case)
                 .select_related("ad", "ad__source", "ad__verdict", "decided_by")
                 .defer("ad__raw_page", "ad__text").order_by("ad__first_seen_at", "pk"))
    captured = set(Screenshot.objects.filter(ad__in=[i.ad_id for i in items],
                                             status=Screenshot.Status.OK)
                   .values_list("ad_id", flat=True))
    notes = list(case.notes.select_related("author"))
    statuses = dict(ReviewItem.Status.choices)
    by_status = Counter(item.status for item in items)
    officers = sorted({case.opened_by.get_username()}
                      | set(Decision.objects.filter(case=case)
                            .values_list("officer__username", flat=True))
                      | {note.author.get_username() for note in notes})
    audit = (AuditEvent.objects.filter(Q(item__case=case) | Q(detail__case=case.number))
             .exclude(action__in=VIEW_ACTIONS).select_related("actor")
             .order_by("at", "pk")[:AUDIT_SHOWN])
    return render(request, "review_ui/case.html", {
        "case": case, "rows": [(item, item.ad_id in captured) for item in items],
        "can_export": request.user.has_perm(EXPORT_CASES_PERMISSION),
        "status_counts": [(statuses[code], n) for code, n in sorted(by_status.items())],
        "taken_down": sum(1 for item in items if item.ad.removed_at),
        "officers": officers, "notes": notes, "note_form": note_form,
        "can_note": request.user.has_perm(DECIDE_PERMISSION),
        "audit_rows": [(event, describe(event.detail)) for event in audit],
    }, status=status)


@require_GET
@permission_required(VIEW_PERMISSION, raise_exception=True)
@permission_required(EXPORT_CASES_PERMISSION, raise_exception=True)
def evidence_pdf(request: HttpRequest, case_id: int) -> HttpResponse:
    """The case's evidence sheet as a PDF download; a 503 page saying why when Chromium is
    missing or fails (nothing is recorded then)."""
    case = get_object_or_404(Case, pk=case_id)
    try:
        sheet = evidence.build(case, request.user, keep_browser=True)
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
