"""The API's JSON: review items and ads out; decisions and list filters in.

Input is checked by the rules the UI's forms use (``review_ui.models.check_reason`` and
``case_for_decision``), so a reason code of the wrong kind is a 400 naming the field.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from review_ui.institutions.matching import export_fields
from review_ui.models import (
    Ad,
    AdOperator,
    InvalidDecision,
    ReviewItem,
    Screenshot,
    case_for_decision,
    check_reason,
)
from review_ui.ordering import ORDERS, PRIORITY
from review_ui.reasons import REASON_CHOICES

DECISIONS = [ReviewItem.Status.CONFIRMED, ReviewItem.Status.DISMISSED,
             ReviewItem.Status.ESCALATED]
# Statuses a client may list; merged items live on as their copy's item.
LISTED_STATUSES = [ReviewItem.Status.PENDING, *DECISIONS]


class ContactsSerializer(serializers.Serializer):
    phones = serializers.ListField(child=serializers.CharField())
    wechat_ids = serializers.ListField(child=serializers.CharField())


class AdSerializer(serializers.ModelSerializer):
    source = serializers.CharField(source="source.name", read_only=True)
    contacts = ContactsSerializer(read_only=True)
    institution = serializers.SerializerMethodField(
        help_text="The listed institution the ad matched (by contact or name), or empty.")
    institution_list = serializers.SerializerMethodField(
        help_text="That institution's list: licensed, blacklisted, or empty.")

    class Meta:
        model = Ad
        fields = ["id", "url", "source", "title", "text", "posted_at", "contacts", "institution",
                  "institution_list"]
        fields += ["province", "city", "district", "township"]  # review_ui/places/
        read_only_fields = fields

    def get_institution(self, ad: Ad) -> str:
        return self._listed(ad)[0]

    def get_institution_list(self, ad: Ad) -> str:
        return self._listed(ad)[1]

    def _listed(self, ad: Ad) -> tuple[str, str]:
        """Matched for every ad of the response at once, kept in the shared context."""
        known = self.context.setdefault("institution_lists", {}) if isinstance(
            self.context, dict) else {}
        if ad.pk not in known:
            instances = self.root.instance
            if isinstance(instances, Ad) or not hasattr(instances, "__iter__"):
                instances = [instances]
            ads = [getattr(obj, "ad", obj) for obj in instances]
            ads = [one for one in ads if isinstance(one, Ad)] or [ad]
            if ad not in ads:
                ads.append(ad)
            known.update(export_fields(ads))
        return known.get(ad.pk, ("", ""))


class ItemSerializer(serializers.ModelSerializer):
    """A review item with its ad, as the queue lists it."""

    score = serializers.FloatField(source="ad.verdict.score", read_only=True, allow_null=True)
    category = serializers.CharField(source="ad.verdict.category", read_only=True,
                                     allow_null=True)
    claimed_by = serializers.SerializerMethodField(
        help_text="Who holds a live claim on the item (null: nobody).")
    claim_expires_at = serializers.SerializerMethodField()
    case = serializers.CharField(source="case.number", read_only=True, allow_null=True)
    ad = AdSerializer(read_only=True)

    class Meta:
        model = ReviewItem
        fields = ["id", "status", "score", "category", "sample", "reason", "claimed_by",
                  "claim_expires_at", "decided_at", "case", "ad"]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_claimed_by(self, item: ReviewItem) -> str | None:
        return item.claimed_by.get_username() if item.claim_is_live(self._now()) else None

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_claim_expires_at(self, item: ReviewItem) -> str | None:
        if not item.claim_is_live(self._now()):
            return None
        return serializers.DateTimeField().to_representation(item.claim_expires_at())

    def _now(self) -> Any:
        # One "now" for a whole page, so that every row reads claims alike.
        return self.context.setdefault("now", timezone.now())


class ItemRefSerializer(serializers.ModelSerializer):
    """The review item deciding an ad (for a copy, its group's item)."""

    class Meta:
        model = ReviewItem
        fields = ["id", "status", "reason", "sample", "decided_at"]
        read_only_fields = fields


class VerdictSerializer(serializers.Serializer):
    score = serializers.FloatField()
    label = serializers.BooleanField(help_text="Flagged by the model.")
    category = serializers.CharField()
    evidence = serializers.JSONField()
    model_version = serializers.CharField()
    created_at = serializers.DateTimeField()


class ScreenshotRefSerializer(serializers.Serializer):
    """The ad's latest screenshot (``review_ui.capture``): the PNG's hash, when it was taken,
    and where the PNG is served (to the same token or session, with the same role)."""

    sha256 = serializers.CharField(help_text="SHA-256 of the PNG, hex.")
    captured_at = serializers.DateTimeField()
    url = serializers.URLField(help_text="GET it for the PNG (image/png).")


class AdDetailSerializer(AdSerializer):
    verdict = VerdictSerializer(read_only=True, allow_null=True)
    item = serializers.SerializerMethodField()
    screenshot = serializers.SerializerMethodField(
        help_text="The latest full-page screenshot; null until the page has been captured.")
    operator = serializers.SerializerMethodField(
        help_text="The id of the ad's operator (ads linked by shared contacts or copies); "
                  "null until it is linked.")

    class Meta(AdSerializer.Meta):
        fields = AdSerializer.Meta.fields + [
            "region", "fetched_at", "first_seen_at", "removed_at", "verdict", "item",
            "screenshot", "operator",
        ]
        read_only_fields = fields

    @extend_schema_field(ItemRefSerializer(allow_null=True))
    def get_item(self, ad: Ad) -> dict[str, Any] | None:
        item = ad.group_review_item()
        return ItemRefSerializer(item).data if item is not None else None

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_operator(self, ad: Ad) -> int | None:
        return AdOperator.objects.filter(ad_id=ad.pk).values_list("operator_id", flat=True).first()

    @extend_schema_field(ScreenshotRefSerializer(allow_null=True))
    def get_screenshot(self, ad: Ad) -> dict[str, Any] | None:
        shot = (Screenshot.objects.filter(ad=ad, status=Screenshot.Status.OK).defer("image")
                .order_by("-captured_at", "-pk").first())
        if shot is None:
            return None
        path = reverse("api:ad_screenshot", args=[ad.pk, shot.pk])
        request = self.context.get("request")
        return ScreenshotRefSerializer({
            "sha256": shot.sha256, "captured_at": shot.captured_at,
            "url": request.build_absolute_uri(path) if request is not None else path,
        }).data


class ItemDetailSerializer(ItemSerializer):
    """One review item: as listed, plus the id of its case (``case`` is its number)."""

    case_id = serializers.IntegerField(read_only=True, allow_null=True,
                                       help_text="The case's id (null: no case).")

    class Meta(ItemSerializer.Meta):
        fields = [*ItemSerializer.Meta.fields, "case_id"]
        read_only_fields = fields


class ItemFilterSerializer(serializers.Serializer):
    """Query parameters of the item list."""

    status = serializers.ChoiceField(
        choices=LISTED_STATUSES, required=False, default=ReviewItem.Status.PENDING,
        help_text="Items with this status (default: pending, the queue).")
    sample = serializers.BooleanField(
        required=False, allow_null=True, default=None,
        help_text="true: exploration-sample items only; false: flagged items only; "
                  "absent: both.")
    order = serializers.ChoiceField(
        choices=[code for code, _label in ORDERS], required=False, default=PRIORITY,
        help_text="priority (default): the queue's order, highest priority first; uncertain: "
                  "most informative first, the scores nearest the model's threshold first.")


class ContactQuerySerializer(serializers.Serializer):
    contact = serializers.CharField(
        max_length=100, help_text="A mobile number or WeChat id, written any way an ad might "
                                  "write it (spaces, dashes, full-width digits).")


class DecisionSerializer(serializers.Serializer):
    """A decision as the UI's form takes it: a reason code of the decision's kind
    (``review_ui.reasons``), an optional note, and for an escalation an optional existing
    case number (none: a new case is opened)."""

    decision = serializers.ChoiceField(choices=DECISIONS)
    reason = serializers.ChoiceField(choices=REASON_CHOICES)
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
    case = serializers.CharField(required=False, allow_blank=True, max_length=20, default="",
                                 help_text="Escalations only: add to this existing case.")

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        try:
            check_reason(data["decision"], data["reason"])
        except InvalidDecision as exc:
            raise serializers.ValidationError({"reason": [str(exc)]}) from None
        try:
            data["case_obj"] = case_for_decision(data["decision"], data["case"])
        except InvalidDecision as exc:
            raise serializers.ValidationError({"case": [str(exc)]}) from None
        return data


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField(
        required=False, help_text="With a 409: already_decided, claimed or not_claimed.")
