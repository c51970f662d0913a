"""Pages of places: the table and grid of flagged, confirmed and open items per township
(dashboard permission), and each officer's own digest subscriptions."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import pgettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from review_ui.auth import QUEUE_PERMISSION
from review_ui.places.jurisdiction import OUTSIDE, standing_of
from review_ui.places.models import DigestSubscription
from review_ui.places.parser import counties
from review_ui.places.townships import grid, township_rows
from review_ui.roles import DASHBOARD_PERMISSION


def queue_row_outside(item: dict[str, Any]) -> bool:
    """Whether a queue row's ad is outside TUTORWATCH_JURISDICTION."""
    place = {level: item.get(f"ad__{level}") or "" for level in ("province", "city", "district")}
    return standing_of(settings.TUTORWATCH_JURISDICTION, place) == OUTSIDE


@require_GET
@permission_required(DASHBOARD_PERMISSION, raise_exception=True)
def townships(request: HttpRequest) -> HttpResponse:
    jurisdiction = settings.TUTORWATCH_JURISDICTION
    rows = township_rows(jurisdiction)
    return render(
        request,
        "review_ui/places/townships.html",
        {
            "rows": rows,
            "tiles": grid(rows),
            "jurisdiction": jurisdiction,
        },
    )


class SubscriptionForm(forms.ModelForm):
    townships = forms.CharField(
        label=pgettext_lazy("places", "Townships"),
        required=False,
        max_length=500,
        help_text=pgettext_lazy(
            "places", "separated by 、 or commas; empty: every township of the district"
        ),
    )

    class Meta:
        model = DigestSubscription
        fields = ["district", "townships", "frequency", "channel", "min_score"]

    def clean_district(self) -> str:
        name = self.cleaned_data["district"].strip()
        jurisdiction = settings.TUTORWATCH_JURISDICTION
        known = {
            c.name
            for c in counties().values()
            if jurisdiction is None or not jurisdiction.city or c.city == jurisdiction.city
        }
        if name not in known:
            raise forms.ValidationError(
                pgettext_lazy("places", "No district of that name is known here.")
            )
        return name

    def clean_townships(self) -> list[str]:
        raw = self.cleaned_data.get("townships") or ""
        return [
            t.strip() for t in raw.replace("，", ",").replace("、", ",").split(",") if t.strip()
        ]

    def clean_min_score(self) -> float:
        score = self.cleaned_data["min_score"]
        if not 0 <= score <= 1:
            raise forms.ValidationError(pgettext_lazy("places", "A score is between 0 and 1."))
        return score

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        district, names = data.get("district"), data.get("townships") or []
        if district and names:
            county = next((c for c in counties().values() if c.name == district), None)
            unknown = [n for n in names if county is None or n not in county.townships]
            if unknown:
                self.add_error(
                    "townships",
                    pgettext_lazy("places", "Not townships of %(district)s: %(names)s")
                    % {"district": district, "names": "、".join(unknown)},
                )
        return data


@require_http_methods(["GET", "POST"])
@permission_required(QUEUE_PERMISSION, raise_exception=True)
def subscriptions(request: HttpRequest) -> HttpResponse:
    form = SubscriptionForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            subscription = form.save(commit=False)
            subscription.user = request.user
            subscription.save()
            return redirect("review_ui:digest_subscriptions")
        status = 400
    else:
        status = 200
    mine = DigestSubscription.objects.filter(user=request.user)
    return render(
        request,
        "review_ui/places/subscriptions.html",
        {"form": form, "subscriptions": mine},
        status=status,
    )


@require_POST
@permission_required(QUEUE_PERMISSION, raise_exception=True)
def unsubscribe(request: HttpRequest, subscription_id: int) -> HttpResponse:
    subscription = get_object_or_404(DigestSubscription, pk=subscription_id, user=request.user)
    subscription.delete()
    return redirect("review_ui:digest_subscriptions")
