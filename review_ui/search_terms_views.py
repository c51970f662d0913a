"""The dashboard's search terms page: which terms find confirmed violations
(``review_ui.search_terms.term_findings``). Supervisors (the dashboard permission) only."""

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from review_ui.roles import DASHBOARD_PERMISSION
from review_ui.search_terms import term_findings


@require_GET
@permission_required(DASHBOARD_PERMISSION, raise_exception=True)
def search_terms(request: HttpRequest) -> HttpResponse:
    return render(request, "review_ui/search_terms.html", {"rows": term_findings()})
