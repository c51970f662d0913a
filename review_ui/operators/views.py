"""The operator page (``/operators/<id>/``) and a supervisor's split of an operator.

Whoever may see the queue may see an operator (the ad pages link to them); splitting needs
``review_ui.split_operator`` (supervisors: a split changes what every officer sees and how the
queue ranks). A merged-away operator's page forwards to the operator it was merged into.
"""

from __future__ import annotations

from collections import Counter
from html import escape
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext
from django.views.decorators.http import require_GET, require_POST

from review_ui.auth import QUEUE_PERMISSION as VIEW_PERMISSION
from review_ui.institutions.matching import operator_institutions
from review_ui.models import Ad, AdContact, Case, Decision, Lead, LeadContact, ReviewItem
from review_ui.operators.linking import SplitRefused, split
from review_ui.operators.models import AdOperator, Operator, OperatorHub, OperatorSplit
from review_ui.operators.summary import bonus_for, operator_stats
from review_ui.roles import SPLIT_OPERATOR_PERMISSION

ADS_SHOWN = 500
DECISIONS_SHOWN = 50
LEADS_SHOWN = 50
# Place fields an ad may carry (issue 19 point 3 adds them); the page shows those that exist.
PLACE_FIELDS = ("province", "city", "district", "township")


class SplitForm(forms.Form):
    ads = forms.TypedMultipleChoiceField(
        coerce=int,
        label=gettext_lazy("ads to split off"),
        error_messages={
            "required": gettext_lazy("Choose ads to split off."),
            "invalid_choice": gettext_lazy("An ad chosen is not one of this operator's."),
        },
    )
    note = forms.CharField(
        max_length=2000,
        label=gettext_lazy("why they are not one operator"),
        error_messages={"required": gettext_lazy("Say why these ads are not the same operator.")},
    )

    def __init__(self, *args: Any, members: list[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["ads"].choices = [(pk, pk) for pk in members]


def _operator(operator_id: int) -> Operator:
    return get_object_or_404(Operator, pk=operator_id)


@require_GET
@permission_required(VIEW_PERMISSION, raise_exception=True)
def operator_page(request: HttpRequest, operator_id: int) -> HttpResponse:
    operator = _operator(operator_id)
    if operator.merged_into_id is not None:
        return redirect("operators:operator", operator.current().pk)
    return render(request, "review_ui/operator.html", operator_context(request, operator))


def _place_fields() -> list[str]:
    names = {field.name for field in Ad._meta.get_fields()}
    return [name for name in PLACE_FIELDS if name in names]


def operator_context(request: HttpRequest, operator: Operator) -> dict[str, Any]:
    # Its ads' ids first, by the index on the links: the ads are then read by primary key,
    # and the planner, knowing how many, never starts parallel workers for a few hundred rows
    # (which cost more than the query on a busy server); a larger operator is read by the join.
    ids = list(AdOperator.objects.filter(operator=operator)
               .values_list("ad_id", flat=True)[:ADS_SHOWN + 1])
    if len(ids) <= ADS_SHOWN:
        ads_q = Ad.objects.filter(pk__in=ids)
    else:
        ads_q = Ad.objects.filter(operator_link__operator=operator)
    places = _place_fields()
    ads = list(
        ads_q.values(
            "pk",
            "title",
            "url",
            "source__name",
            "region",
            "first_seen_at",
            "fetched_at",
            "removed_at",
            "phones",
            "wechat_ids",
            "verdict__score",
            "review_item__status",
            "review_item__reason",
            "review_item__case_id",
            *places,
        ).order_by("-fetched_at", "-pk")[:ADS_SHOWN]
    )
    # All its ads are loaded (nearly every operator): its figures come from them; else from
    # grouped queries over every ad.
    complete = len(ads) < ADS_SHOWN
    for row in ads:
        row["place"] = " ".join(filter(None, (row.get(name) for name in places)))
    can_split = request.user.has_perm(SPLIT_OPERATOR_PERMISSION)
    if complete:
        stats = _stats_of(ads)
        contacts = _contacts_of(ads)
        case_ids = {row["review_item__case_id"] for row in ads} - {None}
    else:
        stats = operator_stats([operator.pk]).get(operator.pk, {})
        contacts = list(
            AdContact.objects.filter(ad__operator_link__operator=operator)
            .values("kind", "value")
            .annotate(ads=Count("ad_id"))
            .order_by("-ads", "value")
        )
        case_ids = set(
            ReviewItem.objects.filter(
                ad__operator_link__operator=operator, case__isnull=False
            ).values_list("case_id", flat=True)
        )
    keys = {(c["kind"], c["value"]) for c in contacts}
    hubs = _hubs(keys)
    labels = {AdContact.PHONE: _("phone"), AdContact.WECHAT: _("WeChat id")}
    for row in contacts:
        row["hub"] = hubs.get((row["kind"], row["value"]))
        row["kind_label"] = labels.get(row["kind"], row["kind"])
    cases = list(Case.objects.filter(pk__in=case_ids).order_by("opened_at"))
    decisions = list(
        Decision.objects.filter(item__ad__operator_link__operator=operator)
        .select_related("officer", "case", "item")
        .order_by("-decided_at", "-pk")[:DECISIONS_SHOWN]
    )
    lead_match = Q(case_id__in=case_ids)
    if keys:
        lead_match |= Q(pk__in=LeadContact.objects.filter(_contact_match(keys)).values("lead_id"))
    leads = list(Lead.objects.filter(lead_match).order_by("-received_at")[:LEADS_SHOWN])
    regions = Counter(row["region"] for row in ads if row["region"])
    place_counts = Counter(row["place"] for row in ads if row["place"])
    return {
        "operator": operator,
        "ads_html": _ad_rows(ads, can_split),
        "ads_more": max(0, stats.get("ads", 0) - len(ads)),
        "stats": stats,
        "contacts": contacts,
        "regions": regions.most_common(),
        "places": place_counts.most_common(),
        "cases": cases,
        "decisions": decisions,
        "leads": leads,
        "splits": OperatorSplit.objects.filter(
            Q(operator=operator) | Q(new_operator=operator)
        ).select_related("split_by"),
        "institutions": operator_institutions(operator.pk),
        "bonus": bonus_for(operator.confirmed),
        "can_split": can_split,
    }


def _stats_of(ads: list[dict[str, Any]]) -> dict[str, Any]:
    """What ``summary.operator_stats`` counts, from the rows of all of an operator's ads."""
    if not ads:
        return {}
    return {
        "ads": len(ads),
        "sources": len({row["source__name"] for row in ads}),
        "first": min(min(row["first_seen_at"], row["fetched_at"]) for row in ads),
        "last": max(max(row["first_seen_at"], row["fetched_at"]) for row in ads),
    }


def _contacts_of(ads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each contact of these ads with how many carry it, as the contact index keys them
    (``Ad.contact_keys``)."""
    counts: Counter[tuple[str, str]] = Counter()
    for row in ads:
        counts.update(
            {(AdContact.PHONE, str(p)[:64]) for p in row["phones"] or [] if p}
            | {(AdContact.WECHAT, str(w)[:64]) for w in row["wechat_ids"] or [] if w}
        )
    return [
        {"kind": kind, "value": value, "ads": n}
        for (kind, value), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][1]))
    ]


def _ad_rows(ads: list[dict[str, Any]], can_split: bool) -> str:
    """The rows of the ads table, built in Python: a template resolving a dozen lookups for
    each of 500 rows took most of the page's time. Every value is escaped (``escape``) before
    it is put in the markup."""
    statuses = {code: str(label) for code, label in ReviewItem.Status.choices}
    not_queued, taken_down, case = _("not queued"), _("Taken down"), _("case")
    split_label = escape(pgettext("operators", "split off"))
    ad_url = reverse("review_ui:ad", args=[0]).replace("/0/", "/{}/")
    case_url = reverse("review_ui:case", args=[0]).replace("/0/", "/{}/")
    zone = timezone.get_current_timezone()
    rows = []
    for row in ads:
        title = row["title"] or row["url"]
        status = escape(statuses.get(row["review_item__status"], not_queued))
        if row["review_item__case_id"]:
            link = case_url.format(int(row["review_item__case_id"]))
            status += f' · <a href="{link}">{escape(case)}</a>'
        if row["removed_at"]:
            status += f" · {escape(taken_down)}"
        score = row["verdict__score"]
        contacts = "; ".join(
            filter(None, [", ".join(row["phones"] or []), ", ".join(row["wechat_ids"] or [])])
        )
        cells = [
            f'<td><a href="{ad_url.format(int(row["pk"]))}">'
            f"{escape(title if len(title) <= 60 else title[:59] + '…')}</a></td>",
            f"<td>{escape(row['source__name'])}</td>",
            f"<td>{escape(row['place'] or row['region'] or '—')}</td>",
            f"<td>{escape(contacts)}</td>",
            f"<td>{_date(row['first_seen_at'], zone)}</td>"
            f"<td>{_date(row['fetched_at'], zone)}</td>",
            f"<td>{f'{score:.2f}' if score is not None else '—'}</td>",
            f"<td>{status}</td>",
        ]
        if can_split:
            cells.insert(
                0,
                f'<td><input type="checkbox" name="ads" value="{int(row["pk"])}" '
                f'aria-label="{split_label}"></td>',
            )
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return mark_safe("\n".join(rows))  # every crawled value in it went through escape()


def _date(value: Any, zone: Any) -> str:
    return value.astimezone(zone).date().isoformat() if value else ""


def _contact_match(keys: set[tuple[str, str]]) -> Q:
    from review_ui.operators.linking import _match

    return _match(keys)


def _hubs(keys: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    if not keys:
        return {}
    return {
        (kind, value): n
        for kind, value, n in OperatorHub.objects.filter(_contact_match(keys)).values_list(
            "kind", "value", "ads"
        )
    }


@require_POST
@permission_required(SPLIT_OPERATOR_PERMISSION, raise_exception=True)
def split_operator(request: HttpRequest, operator_id: int) -> HttpResponse:
    operator = _operator(operator_id)
    members = list(operator.members.values_list("ad_id", flat=True))
    form = SplitForm(request.POST, members=members)
    if not form.is_valid():
        return render(
            request,
            "review_ui/error.html",
            {
                "title": _("The operator was not split"),
                "errors": form.errors,
                "status": 400,
            },
            status=400,
        )
    try:
        new = split(operator, form.cleaned_data["ads"], request.user, form.cleaned_data["note"])
    except SplitRefused as exc:
        return render(
            request,
            "review_ui/error.html",
            {
                "title": _("The operator was not split"),
                "message": str(exc),
                "status": 400,
            },
            status=400,
        )
    messages.success(
        request,
        _("%(n)s ads were split off into operator #%(id)s.") % {"n": new.size, "id": new.pk},
    )
    return redirect("operators:operator", operator.pk)
