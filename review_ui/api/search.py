"""``GET /api/v1/search/?q=``: the search box's results as JSON (``review_ui.search``), each
kind the token's role may see, a page at a time (``kind`` and ``page`` to page through one).
Audited as the UI's search is (``search.performed``, ``"via": "api"``)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from review_ui.api.views import REFUSED, ApiView
from review_ui.auth import QUEUE_PERMISSION
from review_ui.search import (
    KINDS,
    MAX_PAGE_SIZE,
    MAX_QUERY,
    PAGE_SIZE,
    Page,
    QueryError,
    parse,
    search,
)
from review_ui.search_views import MAX_PAGE, audit_search


class SearchQuerySerializer(serializers.Serializer):
    q = serializers.CharField(
        max_length=MAX_QUERY,
        help_text="A phone number in any spelling (spaces, dashes, +86, 0086, full-width "
                  "digits), a WeChat id, a case or ticket number, an institution's name or "
                  "words of the text (all must occur).")
    kind = serializers.ChoiceField(choices=KINDS, required=False,
                                   help_text="Only this kind (to page through it).")
    page = serializers.IntegerField(min_value=1, max_value=MAX_PAGE, required=False, default=1)
    limit = serializers.IntegerField(min_value=1, max_value=MAX_PAGE_SIZE, required=False,
                                     default=PAGE_SIZE, help_text="Hits per kind and page.")

    def validate_q(self, value: str) -> str:
        try:
            self.context["query"] = parse(value)
        except QueryError as exc:
            raise serializers.ValidationError(str(exc)) from None
        return value


class HitSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    matched = serializers.ChoiceField(
        choices=["phone", "wechat", "number", "name", "text"],
        help_text="Why it was found: a phone, a WeChat id, the case number, the institution's "
                  "name or address, or words of the text.")
    snippet = serializers.CharField(source="snippet_text",
                                    help_text="Plain text around the first word found.")
    when = serializers.DateTimeField(allow_null=True, help_text="Ads: fetched; cases: opened; "
                                                                "institutions: updated.")
    page = serializers.CharField(source="link", help_text="Its page in the review UI.")
    url = serializers.CharField(source="api_link", allow_null=True,
                                help_text="Its resource in this API (ads), else null.")


class KindResultsSerializer(serializers.Serializer):
    label = serializers.CharField()
    page = serializers.IntegerField(source="number")
    has_next = serializers.BooleanField()
    too_slow = serializers.BooleanField(
        help_text="true: the words are so rare that the search read every ad past its time "
                  "limit and was stopped; results is empty, which does not mean none exist.")
    results = HitSerializer(source="hits", many=True)


class SearchResultSerializer(serializers.Serializer):
    q = serializers.CharField()
    phones = serializers.ListField(child=serializers.CharField(),
                                   help_text="The phones read from q, as ads store them.")
    wechat_ids = serializers.ListField(child=serializers.CharField())
    words = serializers.ListField(child=serializers.CharField())
    results = serializers.DictField(
        child=KindResultsSerializer(),
        help_text="By kind (ad, lead, case, institution): only the kinds the role may "
                  "see.")


def _payload(query: Any, pages: list[Page]) -> dict[str, Any]:
    return {
        "q": query.text, "phones": list(query.phones), "wechat_ids": list(query.wechat_ids),
        "words": list(query.words),
        "results": {page.kind: KindResultsSerializer(page).data for page in pages},
    }


class Search(ApiView):
    """Ads, leads, cases and listed institutions by phone, WeChat id, case number, name or
    words."""

    required_permission = QUEUE_PERMISSION

    @extend_schema(parameters=[SearchQuerySerializer],
                   responses={200: SearchResultSerializer,
                              400: OpenApiResponse(description="No q, one over 100 characters, "
                                                   "an unknown kind or a bad page or limit."),
                              401: REFUSED, 403: REFUSED})
    def get(self, request: Request) -> Response:
        given = SearchQuerySerializer(data=request.query_params.dict())
        given.is_valid(raise_exception=True)
        data = given.validated_data
        query = given.context["query"]
        pages = search(query, request.user, kind=data.get("kind"), page=data["page"],
                       size=data["limit"])
        audit_search(request.user, query, pages, via="api")
        return Response(_payload(query, pages))
