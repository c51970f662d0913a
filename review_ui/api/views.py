"""The API's views (docs/api.md). Each names the permission its role needs; changes go through
the model methods the UI's views call, so the rules and the audit rows are the UI's, marked
``"via": "api"``. A conflict with another officer's work is a 409 saying what happened and
changing nothing; a bad input is a 400 naming the field."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound
from rest_framework.renderers import BaseRenderer, BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from review_ui.api.access import RolePermission
from review_ui.api.serializers import (
    AdDetailSerializer,
    AdSerializer,
    ContactQuerySerializer,
    DecisionSerializer,
    ErrorSerializer,
    ItemDetailSerializer,
    ItemFilterSerializer,
    ItemSerializer,
)
from review_ui.auth import QUEUE_PERMISSION
from review_ui.models import (
    Ad,
    AlreadyDecided,
    AuditEvent,
    ClaimedByOther,
    ReviewItem,
    Screenshot,
    ads_with_contacts,
    contact_keys_in,
)
from review_ui.ordering import ordered
from review_ui.roles import CLAIM_PERMISSION, DECIDE_PERMISSION, REVERSE_PERMISSION

VIA = "api"
# The largest id a database's bigint holds; a larger one names nothing.
MAX_ID = 2**63 - 1
# Never read for a list: the stored page can weigh hundreds of kilobytes.
HEAVY_AD_FIELDS = ("raw_page", "contact_raw")

CONFLICT = OpenApiResponse(ErrorSerializer, description="Nothing was changed (see detail).")
REFUSED = OpenApiResponse(ErrorSerializer, description="Not logged in, or a wrong token (401); "
                                                       "the role does not allow this (403).")


class ApiView(APIView):
    """Base of the API's views: each names the role permission it needs
    (``required_permission``, checked by ``RolePermission``). Answers JSON, and DRF's browsable
    page to staff only. DRF exempts its views from the UI's LoginRequiredMiddleware: the API
    authenticates each request itself (token or session) and answers 401."""

    required_permission: str | None = None

    def get_renderers(self) -> list[BaseRenderer]:
        renderers = super().get_renderers()
        user = self.request.user if getattr(self, "request", None) is not None else None
        if user is not None and user.is_active and user.is_staff:
            renderers.append(BrowsableAPIRenderer())
        return renderers


def _conflict(exc: Exception) -> Response:
    if isinstance(exc, ClaimedByOther):
        return Response({"detail": exc.message, "code": "claimed"}, status=409)
    return Response({"detail": exc.message, "code": "already_decided"}, status=409)


def _items() -> QuerySet[ReviewItem]:
    """Review items with what their JSON shows, read in the same query."""
    return (ReviewItem.objects.select_related("ad__source", "ad__verdict", "claimed_by", "case")
            .defer(*(f"ad__{name}" for name in HEAVY_AD_FIELDS)))


def _item(pk: int) -> ReviewItem:
    found = _items().filter(pk=pk).first() if pk <= MAX_ID else None
    if found is None:
        raise NotFound(_("There is no review item with this id."))
    return found


class ItemList(ApiView, generics.ListAPIView):
    """Review items with their ads, highest priority first (the queue's order), or with
    ``order=uncertain`` the scores nearest the model's threshold first."""

    required_permission = QUEUE_PERMISSION
    serializer_class = ItemSerializer

    @extend_schema(parameters=[ItemFilterSerializer], responses={200: ItemSerializer(many=True),
                                                                  401: REFUSED, 403: REFUSED})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[ReviewItem]:
        filters = ItemFilterSerializer(data=self.request.query_params.dict())
        filters.is_valid(raise_exception=True)
        items = _items().filter(status=filters.validated_data["status"])
        if filters.validated_data["sample"] is not None:
            items = items.filter(sample=filters.validated_data["sample"])
        return ordered(items, filters.validated_data["order"])


class ItemDetail(ApiView):
    """One review item with its ad, and its case (number and id) when it has one."""

    required_permission = QUEUE_PERMISSION

    @extend_schema(responses={200: ItemDetailSerializer, 401: REFUSED, 403: REFUSED,
                              404: ErrorSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(ItemDetailSerializer(_item(pk)).data)


class ItemClaim(ApiView):
    """Claim a pending item: others cannot claim or decide it until the claim is released,
    decided or expires (``TUTORWATCH_CLAIM_MINUTES``)."""

    required_permission = CLAIM_PERMISSION

    @extend_schema(request=None, responses={200: ItemSerializer, 401: REFUSED, 403: REFUSED,
                                            404: ErrorSerializer, 409: CONFLICT})
    def post(self, request: Request, pk: int) -> Response:
        item = _item(pk)
        try:
            item.claim(request.user, via=VIA)
        except (AlreadyDecided, ClaimedByOther) as exc:
            return _conflict(exc)
        return Response(ItemSerializer(item).data)


class ItemRelease(ApiView):
    """Give up one's claim; a supervisor releases anyone's."""

    required_permission = CLAIM_PERMISSION

    @extend_schema(request=None, responses={200: ItemSerializer, 401: REFUSED, 403: REFUSED,
                                            404: ErrorSerializer, 409: CONFLICT})
    def post(self, request: Request, pk: int) -> Response:
        item = _item(pk)
        force = request.user.has_perm(REVERSE_PERMISSION)
        if not item.release(request.user, force=force, via=VIA):
            return Response({"detail": _("You hold no claim on this item; nothing was changed."),
                             "code": "not_claimed"}, status=409)
        return Response(ItemSerializer(item).data)


class ItemDecision(ApiView):
    """Decide a pending item that nobody else holds a live claim on. An escalation without a
    case number opens a new case."""

    required_permission = DECIDE_PERMISSION

    @extend_schema(request=DecisionSerializer,
                   responses={200: ItemSerializer,
                              400: OpenApiResponse(description="A bad decision, reason code "
                                                   "(or one of the wrong kind), note or case; "
                                                   "or malformed JSON."),
                              401: REFUSED, 403: REFUSED, 404: ErrorSerializer, 409: CONFLICT})
    def post(self, request: Request, pk: int) -> Response:
        item = _item(pk)
        given = DecisionSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        try:
            item.decide(request.user, data["decision"], data["note"], reason=data["reason"],
                        case=data["case_obj"], new_case=data["case_obj"] is None, via=VIA)
        except (AlreadyDecided, ClaimedByOther) as exc:
            return _conflict(exc)
        return Response(ItemSerializer(item).data)


class AdList(ApiView, generics.ListAPIView):
    """Ads carrying a phone number or WeChat id, newest first."""

    required_permission = QUEUE_PERMISSION
    serializer_class = AdSerializer

    @extend_schema(parameters=[ContactQuerySerializer],
                   responses={200: AdSerializer(many=True), 401: REFUSED, 403: REFUSED})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Ad]:
        query = ContactQuerySerializer(data=self.request.query_params.dict())
        query.is_valid(raise_exception=True)
        keys = contact_keys_in(query.validated_data["contact"])
        if not keys:
            raise serializers.ValidationError({"contact": [_(
                "This is neither a mobile number nor a WeChat id.")]})
        return (ads_with_contacts(keys).select_related("source").defer(*HEAVY_AD_FIELDS)
                .order_by("-fetched_at", "-pk"))


class AdDetail(ApiView, generics.RetrieveAPIView):
    """One ad with the model's verdict and the review item deciding it. Audited as a view of
    the ad, as opening its page is."""

    required_permission = QUEUE_PERMISSION
    serializer_class = AdDetailSerializer
    queryset = Ad.objects.select_related("source", "verdict").defer(*HEAVY_AD_FIELDS)

    @extend_schema(responses={200: AdDetailSerializer, 401: REFUSED, 403: REFUSED,
                              404: ErrorSerializer})
    def get(self, request: Request, pk: int) -> Response:
        ad = self.get_queryset().filter(pk=pk).first() if pk <= MAX_ID else None
        if ad is None:
            raise NotFound(_("There is no ad with this id."))
        AuditEvent.record(request.user, "ad.viewed", ad=ad,
                          item=ReviewItem.objects.filter(ad=ad).first(), detail={"via": VIA})
        return Response(self.get_serializer(ad).data)


class PngRenderer(BaseRenderer):
    """Lets a client that asks for ``image/png`` only get the screenshot; errors stay JSON."""

    media_type = "image/png"
    format = "png"
    charset = None

    def render(self, data: Any, accepted_media_type: str | None = None,
               renderer_context: dict[str, Any] | None = None) -> bytes:
        return data if isinstance(data, bytes) else JSONRenderer().render(data)


class AdScreenshot(ApiView):
    """The PNG of one of the ad's screenshots (the ``url`` of the ad's ``screenshot``), to
    whoever may read the ad."""

    required_permission = QUEUE_PERMISSION
    renderer_classes = [JSONRenderer, PngRenderer]

    @extend_schema(responses={(200, "image/png"): OpenApiTypes.BINARY, 401: REFUSED,
                              403: REFUSED, 404: ErrorSerializer})
    def get(self, request: Request, pk: int, shot: int) -> Any:
        from review_ui.capture_views import png_response

        found = (Screenshot.objects.filter(pk=shot, ad_id=pk, status=Screenshot.Status.OK).first()
                 if max(pk, shot) <= MAX_ID else None)
        if found is None:
            raise NotFound(_("There is no such screenshot."))
        return png_response(found)


class Schema(SpectacularAPIView):
    """The OpenAPI schema of this API."""

    required_permission = QUEUE_PERMISSION
    permission_classes = [RolePermission]
