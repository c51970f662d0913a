"""The intake pages: submitting an ad seen anywhere, and leads from complaints.

Every page needs login and a role (checked here on the server): officers and supervisors (who
decide review items) submit ads, enter leads and put leads into cases; whoever may see the queue
sees leads and submitted pictures. Every POST is CSRF-checked; a bad input re-shows the form
with its errors (400) and stores nothing."""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from review_ui.auth import QUEUE_PERMISSION
from review_ui.intake import leads as lead_rules
from review_ui.intake.images import MAX_IMAGES, max_image_bytes
from review_ui.intake.lead_files import LeadFileError, import_leads
from review_ui.intake.submissions import SubmissionForm, UrlAlreadyStored, submit, text_limit
from review_ui.models import Case, Lead, SubmissionImage
from review_ui.roles import DECIDE_PERMISSION

# Submitting an ad queues it, and a lead may open a case: the officers' work, as deciding is.
SUBMIT_PERMISSION = DECIDE_PERMISSION
LEAD_PERMISSION = DECIDE_PERMISSION
VIEW_PERMISSION = QUEUE_PERMISSION
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
LEADS_PAGE = 50
# A hotline export of a year is a few megabytes.
MAX_IMPORT_BYTES = 20 * 1024 * 1024


def _submit_page(request: HttpRequest, form: SubmissionForm, status: int = 200,
                 message: str = "", ad_id: int | None = None) -> HttpResponse:
    return render(request, "review_ui/intake/submit.html", {
        "form": form, "max_images": MAX_IMAGES, "max_mb": max_image_bytes() // (1024 * 1024),
        "max_chars": text_limit(), "message": message, "stored_ad": ad_id,
    }, status=status)


@require_http_methods(["GET", "POST"])
@permission_required(SUBMIT_PERMISSION, raise_exception=True)
def submit_ad(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _submit_page(request, SubmissionForm())
    form = SubmissionForm(request.POST, request.FILES)
    if not form.is_valid():
        return _submit_page(request, form, status=400)
    try:
        done = submit(request.user, form.cleaned_data)
    except UrlAlreadyStored as exc:
        return _submit_page(request, form, status=409, message=exc.message, ad_id=exc.ad_id)
    messages.success(request, _("The ad was stored and queued for review (score %(score).2f).")
                     % {"score": done.ad.verdict.score})
    return redirect("review_ui:ad", ad_id=done.ad.pk)


@require_GET
@permission_required(VIEW_PERMISSION, raise_exception=True)
def submission_image(request: HttpRequest, image_id: int) -> HttpResponse:
    """A submitted picture as stored (re-encoded), never as anything but an image."""
    image = get_object_or_404(SubmissionImage, pk=image_id)
    response = HttpResponse(bytes(image.image), content_type=image.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Content-Disposition"] = (
        f'inline; filename="submission-{image.submission_id}-{image.position}.'
        f'{EXTENSIONS.get(image.content_type, "bin")}"')
    return response


# --- Leads ----------------------------------------------------------------------------------------

@require_GET
@permission_required(VIEW_PERMISSION, raise_exception=True)
def lead_list(request: HttpRequest) -> HttpResponse:
    return _lead_list_page(request)


def _lead_list_page(request: HttpRequest, problems: list[str] | None = None,
                    status: int = 200) -> HttpResponse:
    leads = Lead.objects.select_related("case", "entered_by").defer("text", "contacts_raw")
    page = Paginator(leads, LEADS_PAGE).get_page(request.GET.get("page") or 1)
    return render(request, "review_ui/intake/leads.html", {
        "page": page, "can_enter": request.user.has_perm(LEAD_PERMISSION),
        "problems": problems or []}, status=status)


@require_POST
@permission_required(LEAD_PERMISSION, raise_exception=True)
def lead_import(request: HttpRequest) -> HttpResponse:
    """The hotline's export uploaded: imported as ``tutorwatch leads import`` does, the leads
    recorded as entered by this officer; every problem listed, nothing imported."""
    upload = request.FILES.get("file")
    if upload is None:
        return _lead_list_page(request, [_("Choose a CSV or XLSX file.")], status=400)
    if upload.size > MAX_IMPORT_BYTES:
        return _lead_list_page(request, [_("%(name)s is larger than %(mb)d MB.") % {
            "name": upload.name, "mb": MAX_IMPORT_BYTES // (1024 * 1024)}], status=400)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "upload"
        with path.open("wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        try:
            result = import_leads(path, entered_by=request.user, name=upload.name[:200])
        except LeadFileError as exc:
            return _lead_list_page(request, exc.problems, status=400)
    messages.success(request, _("%(created)d leads imported from %(name)s; %(already)d tickets "
                                "were stored already and left as they were.") % {
        "created": len(result.created), "name": upload.name, "already": len(result.already)})
    return redirect("intake:leads")


@require_http_methods(["GET", "POST"])
@permission_required(LEAD_PERMISSION, raise_exception=True)
def lead_new(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return render(request, "review_ui/intake/lead_form.html",
                      {"form": lead_rules.LeadForm()})
    form = lead_rules.LeadForm(request.POST)
    if not form.is_valid():
        return render(request, "review_ui/intake/lead_form.html", {"form": form}, status=400)
    raw = "\n".join(filter(None, [request.POST.get("phones", "").strip(),
                                  request.POST.get("wechat_ids", "").strip()]))
    try:
        lead = lead_rules.enter(request.user, form.cleaned_data, contacts_raw=raw)
    except IntegrityError:  # the same ticket number stored meanwhile by someone else
        form.add_error("ticket", _("A lead with this ticket number is already stored."))
        return render(request, "review_ui/intake/lead_form.html", {"form": form}, status=400)
    messages.success(request, _("The lead was stored."))
    return redirect("intake:lead", lead_id=lead.pk)


@require_GET
@permission_required(VIEW_PERMISSION, raise_exception=True)
def lead_detail(request: HttpRequest, lead_id: int) -> HttpResponse:
    lead = get_object_or_404(Lead.objects.select_related("case", "entered_by"), pk=lead_id)
    return render(request, "review_ui/intake/lead.html", {
        "lead": lead, "found": lead_rules.matches(lead),
        "can_act": request.user.has_perm(LEAD_PERMISSION),
        "min_name": lead_rules.MIN_NAME_CHARS,
    })


@require_POST
@permission_required(LEAD_PERMISSION, raise_exception=True)
def lead_case(request: HttpRequest, lead_id: int) -> HttpResponse:
    """Open a case for the lead (``action=open``) or add it to one by number
    (``action=join``, ``case``)."""
    lead = get_object_or_404(Lead, pk=lead_id)
    action = request.POST.get("action")
    if action == "open":
        case = lead.open_case(request.user, note=request.POST.get("note", "")[:2000])
        messages.success(request, _("Case %(number)s was opened for this lead.")
                         % {"number": case.number})
    elif action == "join":
        case = Case.by_number(request.POST.get("case", "")[:40])
        if case is None:
            return render(request, "review_ui/error.html", {
                "title": _("Nothing was changed"), "status": 400,
                "message": _("There is no case with this number.")}, status=400)
        if case.pk == lead.case_id:
            return render(request, "review_ui/error.html", {
                "title": _("Nothing was changed"), "status": 409,
                "message": _("The lead is already in this case.")}, status=409)
        lead.join_case(request.user, case)
        messages.success(request, _("The lead was added to case %(number)s.")
                         % {"number": case.number})
    else:
        return render(request, "review_ui/error.html", {
            "title": _("Nothing was changed"), "status": 400,
            "message": _("Unknown action.")}, status=400)
    return redirect("intake:lead", lead_id=lead.pk)
