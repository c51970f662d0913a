"""Ads officers saw where no crawler goes, entered by hand (issue 17 point 3).

A submission is pasted text, an optional URL, the platform it was seen on, where and when, and
up to five pictures (``review_ui.intake.images``). :func:`submit` classifies the text with the
model crawls use (the file ``TUTORWATCH_MODEL`` names, else the promoted version, else the
shipped one), then stores it through the store's one ingest path
(``review_ui.store.ingest``) as a crawled ad is stored: its contacts indexed, grouped with its
near-copies, and queued for review whatever its score (``queue_always``), ranked by its score
as any ad is. Its source is ``manual:<platform>`` (the source row is made on first use).

The URL: an ad is unique by URL. An ad seen in a WeChat group has none, so it gets
``manual:<uuid4>``, new for each submission and never changed (the UI shows it as "no URL").
A URL given must be http(s) and not stored yet: a submission never overwrites a crawled ad (the
officer is pointed to the stored one instead).

The submission, its pictures, the ad, its verdict, its review item and the audit rows are
written in one transaction: a refused or failed submission stores nothing.

Settings: ``TUTORWATCH_SUBMISSION_TEXT_CHARS`` (longest text), ``TUTORWATCH_SUBMISSION_IMAGE_MB``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from crawler.entities import extract_phones, extract_wechat_ids
from review_ui.intake.images import MAX_IMAGES, ImageRefused, PreparedImage, prepare
from review_ui.models import Ad, AuditEvent, ReviewItem, Submission, SubmissionImage
from review_ui.store.ingest import ingest
from review_ui.store.sources import source_row

MANUAL_URL_PREFIX = "manual:"
# A seen time this far in the future is a mistake (a clock a little ahead is not).
FUTURE_SLACK = timedelta(minutes=10)


def text_limit() -> int:
    return int(getattr(settings, "TUTORWATCH_SUBMISSION_TEXT_CHARS", 20000))


def source_name(platform: str) -> str:
    return f"manual:{platform}"


def is_manual_url(url: str) -> bool:
    return url.startswith(MANUAL_URL_PREFIX)


class MultipleImageInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleImageField(forms.FileField):
    """Up to MAX_IMAGES uploaded files, as a list (possibly empty)."""

    widget = MultipleImageInput(attrs={"accept": "image/png,image/jpeg,image/webp"})

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        return [super(MultipleImageField, self).clean(one, initial) for one in files]


class SubmissionForm(forms.Form):
    """What an officer submits, from the UI's form or the API (JSON or multipart): every field
    checked here, pictures included, before anything is stored."""

    text = forms.CharField(label=gettext_lazy("Text of the ad"), widget=forms.Textarea(
        attrs={"rows": 10}))
    url = forms.URLField(label=gettext_lazy("URL (if it has one)"), required=False,
                         max_length=2000, assume_scheme="https")
    platform = forms.ChoiceField(label=pgettext_lazy("intake", "Seen on"),
                                 choices=Submission.Platform.choices)
    seen_at = forms.DateTimeField(label=pgettext_lazy("intake", "Seen at"), required=False,
                                  widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    seen_where = forms.CharField(label=pgettext_lazy("intake", "Seen where"), required=False,
                                 max_length=300)
    images = MultipleImageField(label=gettext_lazy("Pictures (PNG, JPEG or WebP; at most 5)"),
                                required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # No maxlength on the field: a browser would cut a long paste silently.
        self.fields["text"].validators.append(_TextLength(text_limit()))

    def clean_url(self) -> str:
        url = self.cleaned_data.get("url") or ""
        if url and urlsplit(url).scheme.lower() not in ("http", "https"):
            raise forms.ValidationError(_("Only http:// and https:// addresses are accepted."))
        return url

    def clean_seen_at(self) -> Any:
        seen = self.cleaned_data.get("seen_at")
        if seen is not None and seen > timezone.now() + FUTURE_SLACK:
            raise forms.ValidationError(_("The time it was seen is in the future."))
        return seen

    def clean_images(self) -> list[PreparedImage]:
        files = self.cleaned_data.get("images") or []
        if len(files) > MAX_IMAGES:
            raise forms.ValidationError(_("At most %(n)d pictures per ad.") % {"n": MAX_IMAGES})
        prepared, errors = [], []
        for upload in files:
            try:
                prepared.append(prepare(upload, upload.name, upload.size))
            except ImageRefused as exc:
                errors.append(str(exc))
        if errors:
            raise forms.ValidationError(errors)
        return prepared


class _TextLength:
    """The text's length in a message an officer understands (Django's counts as it does)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def __call__(self, value: str) -> None:
        if len(value) > self.limit:
            raise forms.ValidationError(
                _("The text is too long: at most %(limit)d characters, this one has %(n)d.")
                % {"limit": self.limit, "n": len(value)}, code="text_too_long")


class UrlAlreadyStored(Exception):
    """The URL given is an ad already stored (crawled or submitted): nothing was stored."""

    def __init__(self, ad_id: int) -> None:
        super().__init__(ad_id)
        self.ad_id = ad_id

    @property
    def message(self) -> str:
        return _("This URL is already stored as ad %(id)d; nothing was stored. Open that ad "
                 "instead.") % {"id": self.ad_id}


@dataclass(frozen=True)
class Submitted:
    submission: Submission
    ad: Ad
    item: ReviewItem


def _verdict(text: str) -> dict[str, Any]:
    """The model's verdict of the text, as the crawl's classify stage gives it (an ad without a
    title: "\\n" + text, as ``tutorwatch rescore`` will read it)."""
    from crawler.pipelines.classify import loaded_model, split_evidence
    from review_ui.model_registry import current_model_path

    path = getattr(settings, "TUTORWATCH_MODEL", None) or current_model_path()
    model = loaded_model(path or None, getattr(settings, "TUTORWATCH_FLAG_THRESHOLD", None))
    verdict = model.classify([f"\n{text}"])[0].as_dict()
    verdict["evidence"] = split_evidence(verdict["evidence"], 0)
    return verdict


def submit(officer: Any, data: dict[str, Any], *, via: str = "") -> Submitted:
    """Store a submission (``data``: a valid :class:`SubmissionForm`'s ``cleaned_data``).
    Raises :class:`UrlAlreadyStored` when its URL is stored already."""
    text, given_url, platform = data["text"], data.get("url") or "", data["platform"]
    if given_url:
        _refuse_stored(given_url)
    verdict = _verdict(text)  # before the transaction: scoring is the slow part
    url = given_url or f"{MANUAL_URL_PREFIX}{uuid.uuid4()}"
    now = timezone.now()
    item = {
        "url": url, "source": source_name(platform), "title": "", "body_text": text,
        "fetched_at": now, "phones": extract_phones(f"\n{text}"),
        "wechat_ids": extract_wechat_ids(f"\n{text}"), "contact_raw": "",
        # The stored "page" of a submission is the text as pasted: its SHA-256 is the record.
        "raw_body": text.encode("utf-8"), "raw_content_type": "text/plain; charset=utf-8",
        "raw_encoding": "utf-8", "verdict": verdict, "queue_always": True,
    }
    images: list[PreparedImage] = data.get("images") or []
    with transaction.atomic():
        if given_url:
            _refuse_stored(given_url)
        source_row(source_name(platform), {"name": source_name(platform), "kind": "manual",
                                           "platform": platform})
        result = ingest([item])[0]
        if result.outcome != "new":  # stored meanwhile by another request: leave it alone
            raise UrlAlreadyStored(result.ad_id)
        ad = Ad.objects.select_related("source", "verdict").get(pk=result.ad_id)
        review_item = ad.group_review_item()
        if review_item is None:  # queue_always: unreachable unless the store changed its rules
            raise RuntimeError(f"submitted ad {ad.pk} was not queued")
        submission = Submission.objects.create(
            ad=ad, platform=platform, seen_at=data.get("seen_at"),
            seen_where=data.get("seen_where") or "", url_given=bool(given_url),
            submitted_by=officer, submitted_at=now)
        SubmissionImage.objects.bulk_create(
            SubmissionImage(submission=submission, position=index, image=image.data,
                            content_type=image.content_type, sha256=image.sha256,
                            width=image.width, height=image.height,
                            original_name=image.original_name,
                            original_sha256=image.original_sha256,
                            original_size=image.original_size)
            for index, image in enumerate(images, start=1))
        detail: dict[str, Any] = {
            "submission": submission.pk, "platform": platform, "url_given": bool(given_url),
            "images": [image.sha256 for image in images], "score": verdict["score"],
            "raw_sha256": ad.raw_sha256,
        }
        if via:
            detail["via"] = via
        AuditEvent.record(officer, "ad.submitted", ad=ad, item=review_item, detail=detail)
    return Submitted(submission, ad, review_item)


def _refuse_stored(url: str) -> None:
    stored = Ad.objects.filter(url=url).values_list("pk", flat=True).first()
    if stored is not None:
        raise UrlAlreadyStored(stored)
