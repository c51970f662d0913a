"""``POST /api/v1/submissions/``: an ad an officer saw anywhere, as the UI's submission form takes
it (``review_ui.intake.submissions``): ``text``, ``url``, ``platform``, ``seen_at``,
``seen_where`` and, with multipart/form-data, up to five ``images``. JSON takes no images.

Answers 201 ``{"ad": ID, "item": ID}`` (the item is the ad's review item, or that of its group
of copies); 400 naming each bad field (in the user's language, Chinese by default); 409 when the
URL is stored already (``"ad"`` names that ad). Nothing is stored unless all is good. Audited as
``ad.submitted`` with ``"via": "api"``."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from review_ui.api.views import REFUSED, ApiView
from review_ui.intake.submissions import SubmissionForm, UrlAlreadyStored, submit
from review_ui.models import Submission
from review_ui.roles import DECIDE_PERMISSION

VIA = "api"
FIELDS = ("text", "url", "platform", "seen_at", "seen_where")

SubmissionIn = inline_serializer("SubmissionIn", {
    "text": serializers.CharField(),
    "url": serializers.URLField(required=False, allow_blank=True),
    "platform": serializers.ChoiceField(choices=Submission.Platform.choices),
    "seen_at": serializers.DateTimeField(required=False, allow_null=True),
    "seen_where": serializers.CharField(required=False, allow_blank=True),
    "images": serializers.ListField(child=serializers.ImageField(), required=False,
                                    help_text="multipart/form-data only; at most 5"),
})
SubmissionOut = inline_serializer("SubmissionOut", {
    "ad": serializers.IntegerField(), "item": serializers.IntegerField()})


class SubmissionCreate(ApiView):
    """Submit an ad seen where no crawler goes; it is classified, grouped with its copies and
    queued for review whatever its score."""

    required_permission = DECIDE_PERMISSION
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(request={"application/json": SubmissionIn,
                            "multipart/form-data": SubmissionIn},
                   responses={201: SubmissionOut,
                              400: OpenApiResponse(description="A bad field (named), a picture "
                                                   "refused, or malformed input."),
                              401: REFUSED, 403: REFUSED,
                              409: OpenApiResponse(description="The URL is stored already.")})
    def post(self, request: Request) -> Response:
        data, files = request.data, request.FILES
        if request.content_type.startswith("application/json"):
            problems = _json_problems(data)
            if problems:
                return Response(problems, status=400)
            data = {name: data[name] for name in FIELDS if data.get(name) is not None}
        form = SubmissionForm(data, files)
        if not form.is_valid():
            return Response({name: [str(e) for e in errors]
                             for name, errors in form.errors.items()}, status=400)
        try:
            done = submit(request.user, form.cleaned_data, via=VIA)
        except UrlAlreadyStored as exc:
            return Response({"detail": exc.message, "code": "url_stored", "ad": exc.ad_id},
                            status=409)
        return Response({"ad": done.ad.pk, "item": done.item.pk}, status=201)


def _json_problems(data: Any) -> dict[str, Any]:
    """What a JSON body gets wrong before the form sees it: not an object, a field that is not
    a string, or pictures (which need multipart)."""
    if not isinstance(data, dict):
        return {"detail": _("Send a JSON object.")}
    problems: dict[str, list[str]] = {}
    if data.get("images"):
        problems["images"] = [_("Pictures can be sent only as multipart/form-data.")]
    for name in FIELDS:
        if data.get(name) is not None and not isinstance(data[name], str):
            problems[name] = [_("Must be a string.")]
    return problems
