"""The batch page: the review items of one contact (or another registered group,
``review_ui.batch.GROUPS``), with one decision form for the pending ones the officer ticks.

Whoever may see the queue sees the page; only those who may decide get the form and may post
it. A refused form comes back with its errors and the note kept (400, nothing stored); an item
decided or claimed by someone else meanwhile is a 409 that changes nothing."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from review_ui import batch, queue_explain
from review_ui.auth import QUEUE_PERMISSION
from review_ui.forms import DecisionForm
from review_ui.models import AlreadyDecided, ClaimedByOther, InvalidDecision, ReviewItem, claim_ttl
from review_ui.reasons import VIOLATION_CODES
from review_ui.roles import DECIDE_PERMISSION

SHOWN = batch.MAX_BATCH


class BatchForm(DecisionForm):
    """The decision form with the items it applies to."""

    items = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Items"), coerce=int, widget=forms.CheckboxSelectMultiple,
        error_messages={"required": gettext_lazy("Choose at least one item.")})

    def __init__(self, *args: Any, choices: list[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["items"].choices = [(pk, str(pk)) for pk in choices]
        del self.fields["queue"]


def _suggested_reason(items: list[ReviewItem], open_ids: list[int]) -> str:
    """The model's violation form when every open item's verdict names the same one (and none
    is a pending exploration sample, whose verdict is kept from the officer); else none."""
    forms_named = {item.ad.verdict.category if item.ad.verdict and not item.sample else None
                   for item in items if item.pk in open_ids}
    if len(forms_named) == 1 and (only := forms_named.pop()) in VIOLATION_CODES:
        return only
    return ""


@require_http_methods(["GET", "POST"])
@permission_required(QUEUE_PERMISSION, raise_exception=True)
def batch_page(request: HttpRequest, kind: str) -> HttpResponse:
    # The group's value is a query parameter, not a path segment: a WeChat id as a crawled page
    # wrote it may hold any character, a slash too.
    value = request.GET.get("value", "")
    if kind not in batch.GROUPS or not value or "\x00" in value or len(value) > 64:
        raise Http404
    items = list(batch.group_items(kind, value)
                 .select_related("ad", "ad__source", "ad__verdict", "claimed_by", "case")
                 .defer("ad__raw_page", "ad__text", "ad__contact_raw")
                 .order_by("-priority", "-pk")[:SHOWN])
    live_since = timezone.now() - claim_ttl()
    open_ids = [item.pk for item in items if item.status == ReviewItem.Status.PENDING and not (
        item.claimed_by_id and item.claimed_by_id != request.user.pk
        and item.claimed_at and item.claimed_at >= live_since)]
    can_decide = request.user.has_perm(DECIDE_PERMISSION)
    form = None
    status = 200
    if request.method == "POST":
        if not can_decide:
            raise PermissionDenied
        form = BatchForm(request.POST, choices=open_ids)
        if form.is_valid():
            data = form.cleaned_data
            try:
                made, case = batch.decide_batch(
                    request.user, kind, value, data["items"], data["decision"],
                    data["reason"], data["note"], data.get("case", ""))
            except (AlreadyDecided, ClaimedByOther):
                return render(request, "review_ui/error.html", {
                    "title": _("Nothing was changed"), "status": 409,
                    "message": _("One of these items was decided or claimed by someone else "
                                 "meanwhile; nothing was changed. Reload the page."),
                }, status=409)
            except InvalidDecision as exc:
                form.add_error(None, str(exc))
            else:
                queue_explain.counts_changed(request)
                if case is not None:
                    messages.success(request, _("%(n)d items decided together; case %(number)s.")
                                     % {"n": len(made), "number": case.number})
                    return redirect("review_ui:case", case_id=case.pk)
                messages.success(request, _("%(n)d items decided together.") % {"n": len(made)})
                return redirect(request.get_full_path())
        status = 400
    # What the officer ticked comes back ticked; on a first view every open item is.
    chosen = set(open_ids) if form is None else {
        int(pk) for pk in request.POST.getlist("items") if pk.isdigit()}
    if form is None:
        form = BatchForm(choices=open_ids, initial={"reason": _suggested_reason(items, open_ids)})
    form_fields = [form[name] for name in ("decision", "reason", "note", "case")]
    return render(request, "review_ui/batch.html", {
        "kind": kind, "kind_label": batch.GROUPS[kind].label, "value": value,
        "rows": [(item, item.pk in open_ids, item.pk in chosen) for item in items],
        "open_count": len(open_ids), "can_decide": can_decide and bool(open_ids),
        "form": form, "form_fields": form_fields,
        "queue_link": reverse("review_ui:queue"),
    }, status=status)
