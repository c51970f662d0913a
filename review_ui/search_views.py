"""The search page (``/search/?q=``): one box in the top bar for everyone who may see the
queue; the results of each kind their role allows (``review_ui.search``), a page at a time.
Every search is audited (``search.performed``): a phone number looked up across the store is
personal data read, as an ad's page is."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.http import require_GET

from review_ui.auth import QUEUE_PERMISSION
from review_ui.models import AuditEvent
from review_ui.search import (
    KINDS,
    MAX_QUERY,
    PAGE_SIZE,
    Page,
    Query,
    QueryError,
    parse,
    search,
)

MAX_PAGE = 500  # past this, narrow the search: deep offsets cost a scan of every row before


class SearchForm(forms.Form):
    q = forms.CharField(label=pgettext_lazy("search", "Search"), required=False,
                        max_length=MAX_QUERY)
    kind = forms.ChoiceField(label=pgettext_lazy("search", "Only"), required=False,
                             choices=[("", "")] + [(k, k) for k in KINDS])
    page = forms.IntegerField(required=False, min_value=1, max_value=MAX_PAGE)

    def clean(self) -> dict:
        data = super().clean()
        if data.get("q", "").strip():
            try:
                data["query"] = parse(data["q"])
            except QueryError as exc:
                self.add_error("q", str(exc))
        return data


def audit_search(user, query: Query, pages: list[Page], via: str) -> None:
    AuditEvent.record(user, "search.performed", detail={
        "q": query.text, "phones": list(query.phones), "via": via,
        "found": {page.kind: len(page.hits) for page in pages},
    })


@require_GET
@permission_required(QUEUE_PERMISSION, raise_exception=True)
def search_page(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET)
    if not form.is_valid():
        return render(request, "review_ui/error.html", {
            "title": _("This search is not valid"), "errors": form.errors, "status": 400,
            "form": form,
        }, status=400)
    query = form.cleaned_data.get("query")
    pages: list[Page] = []
    if query is not None:
        kind = form.cleaned_data.get("kind") or None
        pages = search(query, request.user, kind=kind, page=form.cleaned_data.get("page") or 1,
                       size=PAGE_SIZE)
        audit_search(request.user, query, pages, via="ui")
    return render(request, "review_ui/search.html", {
        "form": form, "q": form.cleaned_data.get("q", ""), "query": query, "pages": pages,
        "kind": form.cleaned_data.get("kind") or "",
    })
