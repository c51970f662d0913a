"""Leads: complaints that name a tutoring provider (issue 17 point 4).

A lead's phones and WeChat ids are read as a crawl reads an ad's (``crawler.entities``): mobile
numbers in any spelling (spaces, dashes, +86, full-width digits) become 11 digits, WeChat ids
are found by their hints or standing alone in the WeChat field. Landline numbers (area code and
number, ``0731-8456 7890``) are kept too, as digits: they cannot match an ad (ads' index holds
mobile numbers) but they match other leads. Contacts in the complaint's own text count as well,
so a complaint that names no contact in its fields may still match by one in its text, and a
lead that names none at all is accepted: it matches by institution name.

What a lead matches (:func:`matches`): the ads that carry one of its phones or WeChat ids (a
mobile number counts as a WeChat id too, as in the API's contact search), the ads whose title or
text contains the institution name it gives (at least ``MIN_NAME_CHARS`` characters, so that a
name such as "培训" matches nothing), the other leads that share a contact or the same
institution name (compared folded: full-width, spaces and punctuation aside), and the cases of
all of them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django import forms
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from crawler.entities import extract_contact_field, extract_phones, extract_wechat_ids
from review_ui.models import (
    Ad,
    AdContact,
    AuditEvent,
    Case,
    Lead,
    LeadContact,
    ReviewItem,
    ads_with_contacts,
)

MIN_NAME_CHARS = 3
SHOWN = 50
TEXT_CHARS = 20000
_LANDLINE = re.compile(r"(?<![0-9])0[1-9][0-9]{1,2}[\s\-]?[2-9][0-9]{2,3}[\s\-]?[0-9]{4}(?![0-9])")
_SEPARATORS = re.compile(r"[,，;；、/\s]+")
# What a hotline export writes in a contact cell that names no contact.
PLACEHOLDERS = frozenset({"", "无", "暂无", "不详", "未知", "没有", "-", "--", "/", "—", "none",
                          "n/a", "null"})


def fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "")


def institution_key(name: str) -> str:
    """A name as compared: full-width folded, lower case, without spaces and punctuation."""
    return "".join(ch for ch in fold(name).lower()
                   if unicodedata.category(ch)[0] in "LN")[:200]


def is_placeholder(value: str) -> bool:
    return fold(value).strip().lower() in PLACEHOLDERS


class ContactsUnreadable(ValueError):
    """A phone or WeChat field whose content is none of either."""


def read_phones(value: str) -> list[str]:
    """Mobile numbers (11 digits) and landlines (digits with the area code) in a phone field;
    ContactsUnreadable when it holds something but neither."""
    if is_placeholder(value):
        return []
    folded = fold(value).replace("+86", " ").replace("(", " ").replace(")", " ")
    found = extract_phones(folded)
    for match in _LANDLINE.finditer(folded):
        digits = re.sub(r"[^0-9]", "", match.group(0))
        if digits not in found:
            found.append(digits)
    if not found:
        raise ContactsUnreadable(value)
    return found


def read_wechat_ids(value: str) -> list[str]:
    """WeChat ids in a WeChat field: one per separator (comma, space, new line…), with or
    without a hint such as 微信: ; a mobile number stands for the account it names.
    ContactsUnreadable when it holds something but no id."""
    if is_placeholder(value):
        return []
    found: list[str] = []
    for token in _SEPARATORS.split(fold(value)):
        if not token or is_placeholder(token):
            continue
        ids = extract_contact_field(token)
        for one in ids["wechat_ids"] + ids["phones"]:
            if one not in found:
                found.append(one)
    if not found:
        raise ContactsUnreadable(value)
    return found


def contacts_of(text: str, phones: list[str], wechat_ids: list[str]) -> tuple[list[str],
                                                                               list[str]]:
    """The lead's contacts: those of its fields, then those its complaint text names."""
    phones = list(dict.fromkeys(phones + extract_phones(text)))
    wechat_ids = list(dict.fromkeys(wechat_ids + extract_wechat_ids(text)))
    return phones, wechat_ids


def match_keys(lead: Lead) -> set[tuple[str, str]]:
    """The contact index keys a lead matches ads and leads by (a mobile number is a WeChat id
    too)."""
    keys = lead.contact_keys()
    return keys | {(AdContact.WECHAT, p) for p in lead.phones if len(p) == 11}


class LeadForm(forms.Form):
    """A lead entered in the UI."""

    channel = forms.ChoiceField(label=pgettext_lazy("intake", "Came through"),
                                choices=Lead.Channel.choices)
    ticket = forms.CharField(label=pgettext_lazy("intake", "Ticket number"), required=False,
                             max_length=64)
    received_at = forms.DateTimeField(label=pgettext_lazy("intake", "Received"),
                                      widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    text = forms.CharField(label=pgettext_lazy("intake", "Complaint"), max_length=TEXT_CHARS,
                           widget=forms.Textarea(attrs={"rows": 8}))
    institution = forms.CharField(label=gettext_lazy("Institution named"), required=False,
                                  max_length=200)
    place = forms.CharField(label=pgettext_lazy("intake", "Place"), required=False, max_length=300)
    phones = forms.CharField(label=gettext_lazy("Phones named"), required=False, max_length=500)
    wechat_ids = forms.CharField(label=gettext_lazy("WeChat ids named"), required=False,
                                 max_length=500)

    def clean_ticket(self) -> str:
        ticket = self.cleaned_data.get("ticket", "").strip()
        if ticket and Lead.objects.filter(ticket=ticket).exists():
            raise forms.ValidationError(_("A lead with this ticket number is already stored."))
        return ticket

    def clean_received_at(self) -> Any:
        received = self.cleaned_data.get("received_at")
        if received is not None and received > timezone.now() + timedelta(minutes=10):
            raise forms.ValidationError(_("The time received is in the future."))
        return received

    def clean_phones(self) -> list[str]:
        try:
            return read_phones(self.cleaned_data.get("phones", ""))
        except ContactsUnreadable:
            raise forms.ValidationError(_("No mobile or landline number could be read here.")) \
                from None

    def clean_wechat_ids(self) -> list[str]:
        try:
            return read_wechat_ids(self.cleaned_data.get("wechat_ids", ""))
        except ContactsUnreadable:
            raise forms.ValidationError(_("No WeChat id could be read here (an id starts with a "
                                          "letter and has 6 to 20 letters, digits, _ or -).")) \
                from None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("channel") == Lead.Channel.HOTLINE and not data.get("ticket"):
            self.add_error("ticket", _("A hotline lead needs its ticket number."))
        return data


def new_lead(data: dict[str, Any], *, entered_by: Any, contacts_raw: str = "",
             imported_from: str = "") -> Lead:
    """A lead (not saved) from checked values: ``phones`` and ``wechat_ids`` as read by
    :func:`read_phones` and :func:`read_wechat_ids`."""
    phones, wechat_ids = contacts_of(data["text"], data.get("phones") or [],
                                     data.get("wechat_ids") or [])
    institution = (data.get("institution") or "").strip()
    return Lead(text=data["text"], place=(data.get("place") or "").strip(),
                institution=institution, institution_key=institution_key(institution),
                phones=phones, wechat_ids=wechat_ids, contacts_raw=contacts_raw,
                channel=data["channel"], ticket=(data.get("ticket") or "").strip(),
                received_at=data["received_at"], entered_by=entered_by,
                imported_from=imported_from)


def index(leads: list[Lead]) -> None:
    """Write the contact index rows of saved leads."""
    LeadContact.objects.bulk_create(
        LeadContact(lead=lead, kind=kind, value=value)
        for lead in leads for kind, value in sorted(lead.contact_keys()))


def enter(officer: Any, data: dict[str, Any], contacts_raw: str = "") -> Lead:
    """Store a lead an officer entered (a valid :class:`LeadForm`'s data), audited."""
    with transaction.atomic():
        lead = new_lead(data, entered_by=officer, contacts_raw=contacts_raw)
        lead.save()
        index([lead])
        AuditEvent.record(officer, "lead.created", detail={
            "lead": lead.pk, "ticket": lead.ticket, "channel": lead.channel})
    return lead


@dataclass
class Matches:
    """What a lead shares with the rest of the store (see the module's docstring)."""

    ads: list[tuple[Ad, list[str]]] = field(default_factory=list)  # (ad, what it shares)
    leads: list[tuple[Lead, list[str]]] = field(default_factory=list)
    cases: list[Case] = field(default_factory=list)


def _shared(keys: set[tuple[str, str]], wanted: set[tuple[str, str]]) -> list[str]:
    return sorted({value for _, value in keys & wanted})


def matches(lead: Lead) -> Matches:
    found = Matches()
    keys = match_keys(lead)
    name = fold(lead.institution).strip()
    ads: dict[int, tuple[Ad, list[str]]] = {}
    light = ("raw_page", "contact_raw")
    if keys:
        for ad in (ads_with_contacts(keys).select_related("source", "review_item")
                   .defer(*light).order_by("-fetched_at", "-pk")[:SHOWN]):
            ads[ad.pk] = (ad, _shared(ad.contact_keys() | {(AdContact.WECHAT, p)
                                                          for p in ad.phones}, keys))
    if len(institution_key(name)) >= MIN_NAME_CHARS:
        by_name = (Ad.objects.filter(Q(title__contains=name) | Q(text__contains=name))
                   .select_related("source", "review_item").defer(*light)
                   .order_by("-fetched_at", "-pk")[:SHOWN])
        for ad in by_name:
            ads.setdefault(ad.pk, (ad, []))[1].append(name)
    found.ads = list(ads.values())

    others: dict[int, tuple[Lead, list[str]]] = {}
    if keys:
        match = Q()
        for kind, value in keys:
            match |= Q(kind=kind, value=value)
        sharing = LeadContact.objects.filter(match).exclude(lead=lead).values("lead_id")
        for other in Lead.objects.filter(pk__in=sharing).select_related("case")[:SHOWN]:
            others[other.pk] = (other, _shared(match_keys(other), keys))
    if lead.institution_key and len(lead.institution_key) >= MIN_NAME_CHARS:
        for other in (Lead.objects.filter(institution_key=lead.institution_key)
                      .exclude(pk=lead.pk).select_related("case")[:SHOWN]):
            others.setdefault(other.pk, (other, []))[1].append(other.institution)
    found.leads = list(others.values())

    groups = {ad.duplicate_group_id for ad, _ in found.ads} - {None}
    case_ids = set(ReviewItem.objects.filter(
        Q(ad_id__in=list(ads)) | Q(ad__duplicate_group_id__in=groups), case__isnull=False)
        .values_list("case_id", flat=True))
    case_ids |= {other.case_id for other, _ in found.leads if other.case_id}
    case_ids.discard(lead.case_id)
    found.cases = list(Case.objects.filter(pk__in=case_ids).order_by("-opened_at"))
    return found
