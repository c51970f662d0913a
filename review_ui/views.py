"""Views of the review UI. Every page needs login (LoginRequiredMiddleware) and a role's
permission, checked here on the server; every POST is CSRF-checked; inputs go through forms
(an invalid one is a 400 that changes nothing); a conflict with another officer's work is a 409
with a message saying what happened; nothing from a crawled page is marked safe."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import wraps
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.decorators import login_not_required, permission_required
from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crawler.entities import extract_entities
from review_ui import dashboard as dashboard_figures
from review_ui import queue_explain, reversals, run_figures
from review_ui.alerts import run_problems
from review_ui.audit_detail import actor_name, describe
from review_ui.auth import QUEUE_PERMISSION, home_url
from review_ui.capture_views import screenshot_context
from review_ui.exports import stream_cases, write_audit_csv, write_cases
from review_ui.forms import (
    AuditFilterForm,
    DecisionForm,
    QueueFilterForm,
    ReverseForm,
    WorkFilterForm,
    blank_form_html,
    decision_form_html,
)
from review_ui.highlight import evidence_terms, for_field, segments
from review_ui.institutions.matching import queue_badges
from review_ui.institutions.matching import statuses as list_statuses
from review_ui.models import (
    Ad,
    AlreadyDecided,
    AuditEvent,
    ClaimedByOther,
    CrawlRun,
    Decision,
    MergedItem,
    ModelVersion,
    NotDecided,
    ReviewItem,
    Source,
    StaleReversal,
    claim_ttl,
)
from review_ui.operators.summary import queue_lines
from review_ui.ordering import PRIORITY, ordered
from review_ui.places.views import queue_row_outside
from review_ui.roles import (
    ALL_WORK_PERMISSION,
    AUDIT_PERMISSION,
    CLAIM_PERMISSION,
    DASHBOARD_PERMISSION,
    DECIDE_PERMISSION,
    EXPORT_AUDIT_PERMISSION,
    EXPORT_CASES_PERMISSION,
    MODELS_PERMISSION,
    PROMOTE_PERMISSION,
    REVERSE_PERMISSION,
    VIEW_RUNS_PERMISSION,
)
from review_ui.run_failures import run_failure_context
from review_ui.templatetags.review_extras import category_label

logger = logging.getLogger("tutorwatch.views")

PAGE_SIZE = 25
# What a line of the queue shows, read as plain values (no model instances, and never the
# stored page, which can weigh hundreds of kilobytes).
QUEUE_COLUMNS = (
    "status", "claimed_at", "ad_id", "ad__title", "ad__url", "ad__phones", "ad__wechat_ids",
    "ad__contact_shares", "ad__fetched_at", "ad__region", "ad__source__name",
    "ad__verdict__score", "ad__verdict__category", "claimed_by__username", "sample",
    "ad__province", "ad__city", "ad__district", "ad__township",
)
# What a pending exploration sample shows instead of its score: the model's opinion is kept
# from the officer until the item is decided.
SAMPLE_MARK = gettext_lazy("sample")
VIEW_PERMISSION = QUEUE_PERMISSION
SHARING_SHOWN = 50
COUNTS_CACHE_KEY = "tutorwatch:queue-counts"
TRAIL_SHOWN = 30
VIEW_ACTIONS = ("ad.viewed", "ad.snapshot_viewed")


def _bad_request(request: HttpRequest, form, title: str) -> HttpResponse:
    return render(request, "review_ui/error.html", {
        "title": title, "errors": form.errors, "form": form, "status": 400,
    }, status=400)


def _conflict(request: HttpRequest, message: str, ad_id: int | None = None) -> HttpResponse:
    return render(request, "review_ui/error.html", {
        "title": _("Nothing was changed"), "message": message, "status": 409, "ad_id": ad_id,
    }, status=409)


def _next_url(request: HttpRequest, default: str, params: Any = None) -> str:
    """``next`` from the POST (or ``params``) when it stays on this site, else ``default``."""
    wanted = (request.POST if params is None else params).get("next") or ""
    if wanted and url_has_allowed_host_and_scheme(wanted, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return wanted
    return default


def _ad_link(url: str) -> str | None:
    """The original URL as a link target only when it is plain http(s): a crawled page may
    carry ``javascript:`` or ``data:`` URLs."""
    return url if urlsplit(url).scheme.lower() in ("http", "https") else None


def any_permission_required(*perms: str) -> Callable:
    """Like ``permission_required(..., raise_exception=True)``, satisfied by any one of
    ``perms``: pages that show officers their own rows and supervisors everyone's."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not any(request.user.has_perm(perm) for perm in perms):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return checked

    return decorator


# --- Where users land ---------------------------------------------------------------------------

@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Each role's start page (``home_url``); for a user without a role, a page saying so,
    whom to ask, and the way out."""
    url = home_url(request.user)
    if url != request.path:
        return redirect(url)
    return render(request, "review_ui/no_role.html")


def permission_denied(request: HttpRequest, exception: Exception | None = None,
                      message: str = "") -> HttpResponse:
    """The 403 page (``handler403``), with a link to a page this user may open: never back to
    the queue for someone the queue refuses."""
    url = home_url(request.user)
    if url == reverse("review_ui:queue"):
        label = _("Back to the queue")
    elif url == reverse("admin:index"):
        label = _("To the administration pages")
    else:
        label = _("What you can do")
    return render(request, "403.html", {"message": message, "home": url, "home_label": label},
                  status=403)


@login_not_required
def admin_login(request: HttpRequest) -> HttpResponse:
    """Where the admin sends whoever it turns away. A visitor logs in through the throttled
    form; a logged-in user without admin access gets a 403 linking to their own start page
    (Django's admin login would send them to the login form, which sends a logged-in user
    back to the admin: a redirect loop)."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.GET.get("next") or reverse("admin:index"))
    if admin.site.has_permission(request):
        return redirect(_next_url(request, reverse("admin:index"), request.GET))
    return permission_denied(request, message=_(
        "The administration pages are for supervisors and admins; your role does not "
        "include them."))


# --- Queue --------------------------------------------------------------------------------------

@require_GET
@permission_required(VIEW_PERMISSION, raise_exception=True)
def queue(request: HttpRequest) -> HttpResponse:
    form = QueueFilterForm(request.GET)
    if not form.is_valid():
        return _bad_request(request, form, _("These filters are not valid"))
    items = form.apply(ReviewItem.objects.all(), request.user)
    # No total count of a filtered view: on 100,000 ads counting costs seconds, while the page
    # itself walks the priority index and stops after one row more than it shows.
    number = form.cleaned_data.get("page") or 1
    page = QueuePage(ordered(items, form.cleaned_data.get("order"), rows=number * PAGE_SIZE + 1)
                     .values(*QUEUE_COLUMNS, *queue_explain.REASON_COLUMNS), number)
    queue_explain.refresh_counts_if_stale(request)
    counts = status_counts()
    query = request.GET.copy()
    query.pop("page", None)
    tab_query = query.copy()
    tab_query.pop("status", None)
    return render(request, "review_ui/queue.html", {
        "form": form, "page": page, "rows": _queue_rows(page.object_list, query.urlencode()),
        "status": form.status_value(),
        "statuses": ReviewItem.Status.choices, "counts": counts,
        "query": query.urlencode(), "tab_query": tab_query.urlencode(),
        "can_export": request.user.has_perm(EXPORT_CASES_PERMISSION),
        **queue_explain.order_context(query.urlencode(), form.cleaned_data.get("order")),
    })


def status_counts() -> dict[str, int]:
    """How many items have each status, for the queue's tabs. Counting 100,000 items costs
    more than the rest of the page, so each worker process keeps the figures for
    ``TUTORWATCH_QUEUE_COUNTS_SECONDS`` (10): a badge may lag a few seconds behind."""
    counts = cache.get(COUNTS_CACHE_KEY)
    if counts is None:
        counts = dict(ReviewItem.objects.values_list("status").annotate(n=Count("id")).order_by())
        cache.set(COUNTS_CACHE_KEY, counts, settings.TUTORWATCH_QUEUE_COUNTS_SECONDS)
    return counts


class QueuePage:
    """One page of the queue, read as PAGE_SIZE + 1 rows: the extra row says a next page exists."""

    def __init__(self, rows, number: int) -> None:
        start = (number - 1) * PAGE_SIZE
        found = list(rows[start:start + PAGE_SIZE + 1])
        self.number = number
        self.object_list = found[:PAGE_SIZE]
        self.has_next = len(found) > PAGE_SIZE
        self.has_previous = number > 1
        self.next_page_number = number + 1
        self.previous_page_number = number - 1


@dataclass(frozen=True)
class QueueRow:
    """What one line of the queue shows, prepared in Python: the page is loaded all day, and a
    template resolving two dozen lookups per row costs more than the queries do."""

    link: str
    title: str
    score: str
    category: str
    source: str
    region: str
    contacts: str
    shares: int
    fetched: str
    claimed_by: str | None
    status: str
    # Score band, priority and its reasons (review_ui.queue_explain).
    explanation: Any = None
    listed: str = ""  # the list of the institution the ad matched (review_ui.institutions)
    listed_name: str = ""
    place: str = ""  # district and township (review_ui/places/)
    outside: bool = False  # outside TUTORWATCH_JURISDICTION
    operator: Any = None  # review_ui.operators.summary.OperatorLine, or None


def _queue_rows(items, query: str = "") -> list[QueueRow]:
    """The rows of a queue page; each link carries the page's filter (``query``), so that the
    ad page can offer the next item of that filter after a decision."""
    live_since = timezone.now() - claim_ttl()
    suffix = "?" + urlencode({"queue": query}) if query else ""
    statuses = dict(ReviewItem.Status.choices)
    sources = queue_explain.source_descriptions()
    explanations = queue_explain.explain(items)
    operators = queue_lines(item["ad_id"] for item in items)
    rows = []
    for item, explanation in zip(items, explanations, strict=True):
        title = item["ad__title"] or item["ad__url"]
        score = item["ad__verdict__score"]
        claimed = item["claimed_by__username"]
        blind = item["sample"] and item["status"] == ReviewItem.Status.PENDING
        rows.append(QueueRow(
            link=reverse("review_ui:ad", args=[item["ad_id"]]) + suffix,
            title=title if len(title) <= 80 else title[:79] + "…",
            score=(str(SAMPLE_MARK) if blind
                   else f"{score:.2f}" if score is not None else ""),
            category="" if blind else str(category_label(item["ad__verdict__category"] or "")),
            source=sources.get(item["ad__source__name"], item["ad__source__name"]),
            region=item["ad__region"] or "—",
            contacts="; ".join(filter(None, [", ".join(item["ad__phones"] or []),
                                             ", ".join(item["ad__wechat_ids"] or [])])),
            shares=item["ad__contact_shares"],
            fetched=timezone.localtime(item["ad__fetched_at"]).strftime("%Y-%m-%d %H:%M"),
            claimed_by=claimed if claimed and item["claimed_at"] >= live_since else None,
            status=str(statuses[item["status"]]), explanation=explanation,
            place=" ".join(filter(None, [item["ad__district"], item["ad__township"]])),
            outside=queue_row_outside(item),
            operator=operators.get(item["ad_id"]),
        ))
    badges = queue_badges([item["ad_id"] for item in items])
    return [replace(row, listed=badges[item["ad_id"]][0], listed_name=badges[item["ad_id"]][1])
            if item["ad_id"] in badges else row for row, item in zip(rows, items, strict=True)]


# --- One ad -------------------------------------------------------------------------------------

@require_GET
@permission_required(VIEW_PERMISSION, raise_exception=True)
def ad_detail(request: HttpRequest, ad_id: int) -> HttpResponse:
    ad = get_object_or_404(Ad.objects.select_related("source", "verdict"), pk=ad_id)
    item = (ReviewItem.objects.select_related("claimed_by", "decided_by", "case")
            .filter(ad=ad).first())
    AuditEvent.record(request.user, "ad.viewed", ad=ad, item=item)
    return render(request, "review_ui/ad.html",
                  _ad_context(request, ad, item, _queue_filter(request.GET.get("queue", ""))))


def _ad_context(request: HttpRequest, ad: Ad, item: ReviewItem | None, queue_query: str,
                form: DecisionForm | None = None) -> dict[str, Any]:
    """What the ad page shows; ``form`` is a decision form refused by the decide view, shown
    again with its errors and the officer's note."""
    verdict = ad.verdict
    # A pending exploration sample is shown without the model's score, form and highlights, so
    # the officer judges the ad and not the model's opinion of it (issue 16 point 5).
    blind = bool(item and item.sample and item.status == ReviewItem.Status.PENDING)
    evidence = verdict.evidence if verdict and not blind else []
    # The model's category is suggested as the reason only when it is a violation form and the
    # officer may see the model's opinion.
    suggested = verdict.category if verdict and not blind else ""
    found = extract_entities(f"{ad.title}\n{ad.text}")
    found["phones"] = list(dict.fromkeys(list(ad.phones) + found["phones"]))
    found["wechat_ids"] = list(dict.fromkeys(list(ad.wechat_ids) + found["wechat_ids"]))
    sharing = list(
        ad.sharing_ads().select_related("source", "review_item")
        .defer("raw_page", "text", "contact_raw").order_by("-fetched_at")[:SHARING_SHOWN]
    )
    user = request.user
    decisions = (list(item.decisions.select_related("officer", "case")
                      .order_by("decided_at", "pk")) if item else [])
    claim_live = bool(item and item.claim_is_live())
    return {
        "ad": ad,
        "ad_link": _ad_link(ad.url),
        "item": item,
        "verdict": verdict,
        "blind": blind,
        "evidence_terms": evidence_terms(evidence),
        "segments": segments(ad.text, for_field(evidence, "text"), prefix=f"{ad.title}\n"),
        "title_segments": segments(ad.title, for_field(evidence, "title")),
        "entities": found,
        "sharing": sharing,
        "sharing_more": max(0, ad.contact_shares - len(sharing)),
        "lists": list_statuses([ad], with_scope=True)[ad.pk],
        "form_html": decision_form_html(form, suggested or ""),
        "queue_query": queue_query,
        **_neighbour_links(item, queue_query, request.user),
        "queue_link": reverse("review_ui:queue") + (f"?{queue_query}" if queue_query else ""),
        "reverse_form_html": blank_form_html(ReverseForm),
        "decisions": decisions,
        # The reversal form names the decision it replaces (review_ui.models.ReviewItem.reverse).
        "latest_decision": decisions[-1] if decisions else None,
        # Changes to this ad; its views are counted, and listed in the audit log.
        "trail": AuditEvent.objects.filter(ad=ad).exclude(action__in=VIEW_ACTIONS)
        .select_related("actor")[:TRAIL_SHOWN],
        "views": AuditEvent.objects.filter(ad=ad, action__in=VIEW_ACTIONS).count(),
        "claim_live": claim_live,
        "claimed_by_me": claim_live and item.claimed_by_id == user.pk,
        "can_decide": user.has_perm(DECIDE_PERMISSION),
        "can_claim": user.has_perm(CLAIM_PERMISSION),
        "can_reverse": user.has_perm(REVERSE_PERMISSION),
        "copies": list(ad.copies().only("pk", "title", "url").order_by("pk")[:200]),
        "group_item": (ad.group_review_item()
                       if item is None or item.status == ReviewItem.Status.MERGED else None),
        "versions": ad.versions.defer("raw_page").order_by("-number"),
        **screenshot_context(ad),
    }


def _queue_filter(query: str) -> str:
    """``query`` when it is a valid queue filter (the query string of a queue page), else
    empty: it comes back from the browser and is only ever read through QueueFilterForm."""
    if not query or len(query) > 2000:
        return ""
    params = QueryDict(query)
    params = params.copy()
    params.pop("page", None)
    return params.urlencode() if QueueFilterForm(params).is_valid() else ""


def _neighbour_links(item: ReviewItem | None, query: str, user: Any) -> dict[str, str]:
    """Links to the next and previous item of the queue filter ``query`` (the keys j and k):
    neighbours in the priority order; in another order, the next pending item only."""
    if item is None:
        return {}
    form = QueueFilterForm(QueryDict(query))
    if not form.is_valid():
        return {}
    suffix = "?" + urlencode({"queue": query}) if query else ""
    links = {}
    if form.cleaned_data.get("order") not in (None, "", PRIORITY):
        following = _next_pending(query, user, item)
        if following is not None:
            links["next_link"] = reverse("review_ui:ad", args=[following.ad_id]) + suffix
        return links
    items = form.apply(ReviewItem.objects.all(), user).exclude(pk=item.pk)
    after = Q(priority__lt=item.priority) | Q(priority=item.priority, pk__lt=item.pk)
    following = items.filter(after).order_by("-priority", "-pk").values("ad_id").first()
    preceding = items.exclude(after).order_by("priority", "pk").values("ad_id").first()
    if following:
        links["next_link"] = reverse("review_ui:ad", args=[following["ad_id"]]) + suffix
    if preceding:
        links["previous_link"] = reverse("review_ui:ad", args=[preceding["ad_id"]]) + suffix
    return links


def _next_pending(query: str, user: Any, after: ReviewItem) -> ReviewItem | None:
    """The first pending item of the queue filter ``query`` in that filter's order, other than
    ``after`` and other than items another officer holds a live claim on."""
    params = QueryDict(query).copy()
    params["status"] = ReviewItem.Status.PENDING
    form = QueueFilterForm(params)
    if not form.is_valid():
        return None
    live_since = timezone.now() - claim_ttl()
    items = form.apply(ReviewItem.objects.all(), user).exclude(pk=after.pk).filter(
        Q(claimed_by__isnull=True) | Q(claimed_by=user) | Q(claimed_at__isnull=True)
        | Q(claimed_at__lt=live_since))
    return ordered(items, form.cleaned_data.get("order"), rows=1).only("pk", "ad_id").first()


# --- Changes ------------------------------------------------------------------------------------

@require_POST
@permission_required(CLAIM_PERMISSION, raise_exception=True)
def claim(request: HttpRequest, item_id: int) -> HttpResponse:
    item = get_object_or_404(ReviewItem, pk=item_id)
    try:
        item.claim(request.user)
    except (AlreadyDecided, ClaimedByOther) as exc:
        return _conflict(request, exc.message, item.ad_id)
    messages.success(request, _("You have claimed this item."))
    # Back on the ad page with the queue filter the officer came from (for save and next).
    queue_query = _queue_filter(request.POST.get("queue", ""))
    suffix = "?" + urlencode({"queue": queue_query}) if queue_query else ""
    return redirect(reverse("review_ui:ad", args=[item.ad_id]) + suffix)


@require_POST
@permission_required(CLAIM_PERMISSION, raise_exception=True)
def release(request: HttpRequest, item_id: int) -> HttpResponse:
    item = get_object_or_404(ReviewItem, pk=item_id)
    force = request.user.has_perm(REVERSE_PERMISSION)
    if not item.release(request.user, force=force):
        return _conflict(request, _("You hold no claim on this item; nothing was changed."),
                         item.ad_id)
    messages.success(request, _("The claim was released."))
    return redirect(_next_url(request, reverse("review_ui:ad", args=[item.ad_id])))


@require_http_methods(["GET", "POST"])
@permission_required(DECIDE_PERMISSION, raise_exception=True)
def decide(request: HttpRequest, item_id: int) -> HttpResponse:
    """Record a decision. A refused form shows the ad page again, with the errors on the form
    and the note kept (400, nothing stored); a GET (a reloaded or bookmarked address) goes to
    the ad page. After the decision, a form posted from the ad page (which carries the queue
    filter the officer came from) opens the next pending item of that filter."""
    item = get_object_or_404(ReviewItem.objects.select_related("ad"), pk=item_id)
    if request.method == "GET":
        return redirect("review_ui:ad", ad_id=item.ad_id)
    form = DecisionForm(request.POST)
    queue_query = _queue_filter(request.POST.get("queue", ""))
    if not form.is_valid():
        return _refused_decision(request, item, form, queue_query)
    data = form.cleaned_data
    try:
        item.decide(request.user, data["decision"], data["note"], reason=data["reason"],
                    case=data["case_obj"], new_case=data["case_obj"] is None)
    except (AlreadyDecided, ClaimedByOther) as exc:
        return _conflict(request, exc.message, item.ad_id)
    queue_explain.counts_changed(request)
    messages.success(request, _saved_message(item))
    if "next" in request.POST or "queue" not in request.POST:
        return redirect(_next_url(request, reverse("review_ui:queue")))
    following = _next_pending(queue_query, request.user, item)
    suffix = "?" + urlencode({"queue": queue_query}) if queue_query else ""
    if following is None:
        messages.info(request, _("No more pending items in this filter."))
        return redirect(reverse("review_ui:queue") + (f"?{queue_query}" if queue_query else ""))
    return redirect(reverse("review_ui:ad", args=[following.ad_id]) + suffix)


def _refused_decision(request: HttpRequest, item: ReviewItem, form: DecisionForm,
                      queue_query: str) -> HttpResponse:
    ad = Ad.objects.select_related("source", "verdict").get(pk=item.ad_id)
    item = ReviewItem.objects.select_related("claimed_by", "decided_by", "case").get(pk=item.pk)
    context = _ad_context(request, ad, item, queue_query, form=form)
    context["form_refused"] = True
    return render(request, "review_ui/ad.html", context, status=400)


def _saved_message(item: ReviewItem) -> str:
    """What was saved, said in words: the decision, its reason and any case. (Not the ad's
    title: a message is a page's text, and an ad's words there would read as the page's.)"""
    values = {"decision": item.get_status_display(), "reason": item.get_reason_display()}
    if item.case is not None:
        return _("Saved: %(decision)s (%(reason)s); case %(number)s.") % {
            **values, "number": item.case.number}
    return _("Saved: %(decision)s (%(reason)s).") % values


@require_POST
@permission_required(REVERSE_PERMISSION, raise_exception=True)
def reverse_decision(request: HttpRequest, item_id: int) -> HttpResponse:
    item = get_object_or_404(ReviewItem, pk=item_id)
    form = ReverseForm(request.POST)
    if not form.is_valid():
        return _bad_request(request, form, _("Invalid reversal."))
    data = form.cleaned_data
    try:
        item.reverse(request.user, data["decision"], data["note"], reason=data["reason"] or "",
                     reverses=data["reverses"])
    except MergedItem:
        return _conflict(request, _("This item was merged with a copy's item, which carries the "
                                    "decision; nothing was changed."), item.ad_id)
    except StaleReversal:
        return _conflict(request, _("The decision has changed since this page was shown; "
                                    "nothing was changed. Reload the ad and check its history."),
                         item.ad_id)
    except NotDecided:
        return _conflict(request, _("This item is not decided yet; nothing was changed."),
                         item.ad_id)
    except ValueError:
        return _conflict(request, _("The new decision is the same as the current one; "
                                    "nothing was changed."), item.ad_id)
    queue_explain.counts_changed(request)
    if item.case is not None:
        messages.success(request, _("The decision was reversed; case %(number)s.")
                         % {"number": item.case.number})
    else:
        messages.success(request, _("The decision was reversed."))
    return redirect("review_ui:ad", ad_id=item.ad_id)


# --- Oversight ----------------------------------------------------------------------------------

@require_GET
@any_permission_required(VIEW_PERMISSION, AUDIT_PERMISSION)
def audit_log(request: HttpRequest) -> HttpResponse:
    """Supervisors (and admins) see everyone's events and may filter them; officers see their
    own, and may name no one else in the filter (which would tell them who exists)."""
    everyone = request.user.has_perm(AUDIT_PERMISSION)
    form = AuditFilterForm(request.GET, users=None if everyone else request.user)
    if not form.is_valid():
        return _bad_request(request, form, _("These filters are not valid"))
    # The page shows an ad's title only: never load its stored page or text.
    events = AuditEvent.objects.select_related("actor", "ad").defer(
        "ad__raw_page", "ad__text", "ad__contact_raw")
    if not everyone:
        events = events.filter(actor=request.user)
    events = form.apply(events).order_by("-at", "-pk")
    page = Paginator(events, 50).get_page(form.cleaned_data.get("page") or 1)
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "review_ui/audit.html", {
        "page": page, "form": form, "everyone": everyone, "query": query.urlencode(),
        "rows": [(event, describe(event.detail), actor_name(event))
                 for event in page.object_list],
        "can_export": request.user.has_perm(EXPORT_AUDIT_PERMISSION),
    })


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
        # PostgreSQL refuses a NUL in a query parameter: no source is named so.
        if "\x00" in source or not Source.objects.filter(name=source).exists():
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
        **run_failure_context(run),
        "figure_groups": run_figures.figures(run.stats),
        "workers": [
            {k: v for k, v in worker.items() if k != "stats"} for worker in run.workers
        ],
    })


@require_GET
@permission_required(EXPORT_AUDIT_PERMISSION, raise_exception=True)
def audit_export(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        return _bad_request(request, form, _("These filters are not valid"))
    events = form.apply(AuditEvent.objects.all())
    out = io.BytesIO()
    count = write_audit_csv(out, events)
    AuditEvent.record(request.user, "audit.exported",
                      detail={"rows": count, "filters": _filters(form)})
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="tutorwatch-audit-{stamp}.csv"'
    return response


def _filters(form) -> dict[str, str]:
    return {name: str(value) for name, value in form.cleaned_data.items()
            if value not in (None, "", False) and name != "page"}


@require_GET
@permission_required(EXPORT_CASES_PERMISSION, raise_exception=True)
def export_cases(request: HttpRequest, fmt: str) -> HttpResponse:
    """Confirmed and escalated items under the queue's filters, as CSV or XLSX."""
    form = QueueFilterForm(request.GET)
    if not form.is_valid():
        return _bad_request(request, form, _("These filters are not valid"))
    items = form.apply(ReviewItem.objects.all(), request.user, default_status="all")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    filters, user = _filters(form), request.user
    if fmt == "csv":
        # Streamed (issue 22): the first bytes leave at once and memory holds one chunk of
        # rows whatever the size; the audit row is written when the last row has gone (or
        # the download stopped: then it says so).
        def finished(count: int, complete: bool) -> None:
            detail = {"format": fmt, "rows": count, "filters": filters}
            AuditEvent.record(user, "cases.exported",
                              detail=detail if complete else {**detail, "complete": False})

        response = StreamingHttpResponse(stream_cases(items, finished),
                                         content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="tutorwatch-cases-{stamp}.{fmt}"')
        return response
    out = io.BytesIO()
    count = write_cases(out, items, fmt)
    AuditEvent.record(user, "cases.exported",
                      detail={"format": fmt, "rows": count, "filters": filters})
    content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response = HttpResponse(out.getvalue(), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="tutorwatch-cases-{stamp}.{fmt}"'
    return response


@require_GET
@any_permission_required(VIEW_PERMISSION, ALL_WORK_PERMISSION)
def work(request: HttpRequest) -> HttpResponse:
    """Decisions: a supervisor sees every officer's, with a summary per officer; an officer
    sees their own."""
    everyone = request.user.has_perm(ALL_WORK_PERMISSION)
    form = WorkFilterForm(request.GET, users=None if everyone else request.user)
    if not form.is_valid():
        return _bad_request(request, form, _("These filters are not valid"))
    decisions = Decision.objects.select_related("officer", "item", "item__ad", "case").defer(
        "item__ad__raw_page", "item__ad__text", "item__ad__contact_raw")
    if not everyone:
        decisions = decisions.filter(officer=request.user)
    decisions = form.apply(decisions).order_by("-decided_at", "-pk")
    summary = []
    if everyone:
        summary = list(
            decisions.order_by().values("officer__username").annotate(
                total=Count("id"),
                confirmed=Count("id", filter=Q(decision__in=["confirmed", "escalated"])),
                dismissed=Count("id", filter=Q(decision="dismissed")),
                reversals=Count("id", filter=Q(reverses__isnull=False)),
            ).order_by("officer__username")
        )
    page = Paginator(decisions, 50).get_page(form.cleaned_data.get("page") or 1)
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "review_ui/work.html", {
        "page": page, "form": form, "everyone": everyone, "summary": summary,
        "query": query.urlencode(), "reversals": reversals.of_decisions_by(request.user),
    })


@require_GET
@permission_required(DASHBOARD_PERMISSION, raise_exception=True)
def dashboard(request: HttpRequest) -> HttpResponse:
    figures = dashboard_figures.recent()
    return render(request, "review_ui/dashboard.html", {"d": figures})


@require_GET
@permission_required(MODELS_PERMISSION, raise_exception=True)
def model_versions(request: HttpRequest) -> HttpResponse:
    """The registered model versions with their figures; the current one marked."""
    from review_ui import model_registry

    versions = list(ModelVersion.objects.select_related("trained_by", "previous"))
    splits = sorted({split for v in versions for split in v.metrics})
    rows = [(v, [v.metrics.get(split, {}).get("f1") if isinstance(v.metrics.get(split), dict)
                 else None for split in splits]) for v in versions]
    return render(request, "review_ui/models.html", {
        "rows": rows, "splits": splits, "current": model_registry.current(),
        "tolerance": model_registry.tolerance(),
    })


@require_POST
@permission_required(PROMOTE_PERMISSION, raise_exception=True)
def promote_model(request: HttpRequest) -> HttpResponse:
    """Promote a version (refused when worse than the current model unless forced; audited)."""
    from review_ui import model_registry

    version = request.POST.get("version", "")
    force = request.POST.get("force") == "1"
    try:
        model_registry.promote(version, request.user, force=force)
    except model_registry.RegistryError as exc:
        messages.error(request, _("Not promoted: %(reason)s") % {"reason": exc})
    else:
        messages.success(request, _("Version %(version)s is now the current model.")
                         % {"version": version})
    return redirect("review_ui:models")
