"""Views of the review UI. Every page needs login (LoginRequiredMiddleware); deciding needs the
officer permission; every POST is CSRF-checked; nothing from a crawled page is marked safe."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from review_ui.alerts import run_problems
from review_ui.forms import DecisionForm
from review_ui.highlight import for_field, segments
from review_ui.models import Ad, AlreadyDecided, AuditEvent, CrawlRun, ReviewItem, Source
from review_ui.roles import DECIDE_PERMISSION, VIEW_RUNS_PERMISSION

PAGE_SIZE = 25


@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", ReviewItem.Status.PENDING)
    if status not in ReviewItem.Status.values:
        return HttpResponseBadRequest(_("Unknown status."))
    items = (
        ReviewItem.objects.filter(status=status)
        .select_related("ad", "ad__source", "ad__verdict")
        .order_by("-priority", "-created_at")
    )
    page = Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))
    counts = {s: ReviewItem.objects.filter(status=s).count() for s in ReviewItem.Status.values}
    return render(request, "review_ui/queue.html", {
        "page": page, "status": status, "statuses": ReviewItem.Status.choices, "counts": counts,
    })


@require_GET
def ad_detail(request: HttpRequest, ad_id: int) -> HttpResponse:
    ad = get_object_or_404(Ad.objects.select_related("source", "verdict"), pk=ad_id)
    item = ReviewItem.objects.filter(ad=ad).first()
    verdict = ad.verdict
    evidence = verdict.evidence if verdict else []
    AuditEvent.record(request.user, "ad.viewed", ad=ad, item=item)
    return render(request, "review_ui/ad.html", {
        "ad": ad,
        "item": item,
        "verdict": verdict,
        "segments": segments(ad.text, for_field(evidence, "text")),
        "title_segments": segments(ad.title, for_field(evidence, "title")),
        "form": DecisionForm(),
        "decisions": item.decisions.select_related("officer") if item else [],
        "can_decide": request.user.has_perm(DECIDE_PERMISSION),
        "copies": list(ad.copies().only("pk", "title", "url").order_by("pk")[:200]),
        "group_item": None if item else ad.group_review_item(),
        "versions": ad.versions.defer("raw_page").order_by("-number"),
    })


@require_GET
def snapshot(request: HttpRequest, ad_id: int) -> HttpResponse:
    """The stored raw page as plain text: its markup is shown, never run."""
    ad = get_object_or_404(Ad, pk=ad_id)
    AuditEvent.record(request.user, "ad.snapshot_viewed", ad=ad)
    encoding = ad.raw_encoding or "utf-8"
    try:
        text = bytes(ad.raw_page).decode(encoding, errors="replace")
    except LookupError:
        text = bytes(ad.raw_page).decode("utf-8", errors="replace")
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = f'inline; filename="ad-{ad.pk}-{ad.raw_sha256[:12]}.txt"'
    return response


@require_POST
@permission_required(DECIDE_PERMISSION, raise_exception=True)
def decide(request: HttpRequest, item_id: int) -> HttpResponse:
    item = get_object_or_404(ReviewItem.objects.select_related("ad"), pk=item_id)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(_("Invalid decision."))
    try:
        item.decide(request.user, form.cleaned_data["decision"], form.cleaned_data["note"])
    except AlreadyDecided:
        messages.error(request, _("This item was already decided; nothing was changed."))
        return redirect("review_ui:ad", ad_id=item.ad_id)
    messages.success(request, _("Decision recorded."))
    return redirect("review_ui:queue")


@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    events = AuditEvent.objects.select_related("actor", "ad").order_by("-at", "-pk")
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    return render(request, "review_ui/audit.html", {"page": page})


@require_GET
@permission_required(VIEW_RUNS_PERMISSION, raise_exception=True)
def runs(request: HttpRequest) -> HttpResponse:
    """Crawl runs, newest first, failures marked; filter by source and status."""
    runs = CrawlRun.objects.select_related("source").order_by("-started_at", "-pk")
    source = request.GET.get("source", "")
    status = request.GET.get("status", "")
    if status and status not in CrawlRun.Status.values:
        return HttpResponseBadRequest(_("Unknown status."))
    if source:
        if not Source.objects.filter(name=source).exists():
            return HttpResponseBadRequest(_("Unknown source."))
        runs = runs.filter(source__name=source)
    if status:
        runs = runs.filter(status=status)
    page = Paginator(runs, 50).get_page(request.GET.get("page"))
    rows = [(run, run_problems(run)) for run in page.object_list]
    return render(request, "review_ui/runs.html", {
        "page": page, "rows": rows, "source": source, "status": status,
        "sources": Source.objects.values_list("name", flat=True),
        "statuses": CrawlRun.Status.choices,
    })


@require_GET
@permission_required(VIEW_RUNS_PERMISSION, raise_exception=True)
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(CrawlRun.objects.select_related("source"), pk=run_id)
    return render(request, "review_ui/run.html", {
        "run": run,
        "problems": run_problems(run),
        "stats": sorted((k, v) for k, v in run.stats.items() if k != "workers"),
        "workers": [
            {k: v for k, v in worker.items() if k != "stats"} for worker in run.workers
        ],
    })
