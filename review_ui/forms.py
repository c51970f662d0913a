"""Forms of the review UI. Every input a view takes goes through one of these; an invalid one
is answered with 400 and changes nothing. The admin's forms for institutions and sources live
here too: contacts one a line, normalised as ads' contacts are, and source configs checked by
the same loader as YAML files."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

import yaml
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.forms.utils import flatatt
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from crawler.config import ConfigError, parse_source_text
from crawler.entities import extract_contact_field, extract_phones
from review_ui.models import (
    AUDIT_ACTIONS,
    Institution,
    InvalidDecision,
    ReviewItem,
    Source,
    case_for_decision,
    check_reason,
)
from review_ui.ordering import ORDERS
from review_ui.places.filters import STANDING_CHOICES, filter_by_place
from review_ui.queue_explain import SourceChoiceField
from review_ui.reasons import CATEGORY_LABELS, DISMISSAL_CODES, VIOLATION_CODES

DECISIONS = [
    (ReviewItem.Status.CONFIRMED, _("Confirm: a suspected violation")),
    (ReviewItem.Status.DISMISSED, _("Dismiss: not a violation")),
    (ReviewItem.Status.ESCALATED, _("Escalate to a case")),
]
REVERSALS = DECISIONS + [(ReviewItem.Status.PENDING, _("Return to the queue (undecided)"))]
REASONS = [("", "—")] + [
    (_("Violation form"), [(c, CATEGORY_LABELS[c]) for c in sorted(VIOLATION_CODES)]),
    (_("Dismissal reason"), [(c, CATEGORY_LABELS[c]) for c in sorted(DISMISSAL_CODES)]),
]
STATUS_ANY = "all"
# Filter dates outside these years are refused: none of the data is older, and the extreme
# dates a date input accepts (0001-01-01, 9999-12-31) overflow once turned into a time range.
FIRST_YEAR, LAST_YEAR = 2000, 2100
# Past any page there is to see; larger numbers would overflow the database's OFFSET.
MAX_PAGE = 10000
# The largest id a database's bigint holds.
MAX_ID = 2**63 - 1


class FastInputMixin:
    """An <input> built in Python (escaped by format_html) rather than from templates."""

    def render(self, name: str, value: Any, attrs: dict | None = None, renderer: Any = None) -> str:
        final = self.build_attrs(self.attrs, {**(attrs or {}), "type": self.input_type,
                                              "name": name})
        if self.input_type == "checkbox":
            if value:
                final["checked"] = True
        else:
            formatted = self.format_value(value)
            if formatted not in (None, ""):
                final["value"] = str(formatted)
        return format_html("<input{}>", flatatt(final))


class FastText(FastInputMixin, forms.TextInput):
    pass


class FastNumber(FastInputMixin, forms.NumberInput):
    pass


class FastDate(FastInputMixin, forms.DateInput):
    input_type = "date"


class FastCheckbox(FastInputMixin, forms.CheckboxInput):
    input_type = "checkbox"


class FastSelect(forms.Select):
    """A <select> whose options are built in Python (escaped by format_html) instead of one
    template per option: the queue and ad pages, loaded all day, render several selects."""

    def render(self, name: str, value: Any, attrs: dict | None = None, renderer: Any = None) -> str:
        final = self.build_attrs(self.attrs, {**(attrs or {}), "name": name})
        chosen = {str(v) for v in (value if isinstance(value, (list, tuple)) else [value])
                  if v is not None}

        def options(choices: Any) -> str:
            return format_html_join("", "<option value=\"{}\"{}>{}</option>", (
                (str(v), " selected" if str(v) in chosen else "", str(label))
                for v, label in choices
            ))

        parts = []
        for option_value, label in self.choices:
            if isinstance(label, (list, tuple)):
                parts.append(format_html('<optgroup label="{}">{}</optgroup>', str(option_value),
                                         options(label)))
            else:
                parts.append(options([(option_value, label)]))
        return format_html("<select{}>{}</select>", flatatt(final),
                           format_html_join("", "{}", ((p,) for p in parts)))


def _check_reason(form: forms.Form, decision: str, reason: str) -> None:
    if not decision:
        return  # the decision field has its own error
    try:
        check_reason(decision, reason)
    except InvalidDecision as exc:
        form.add_error("reason", str(exc))


class DecisionForm(forms.Form):
    """An officer's decision on one item. No decision is chosen in advance (an officer who
    submits without choosing is told so, rather than confirming by default); the reason list
    names which codes go with which decision (``data-violation``, ``data-dismissal``) so that the
    page's script can offer only those, while ``clean`` still checks the pair on the server."""

    decision = forms.ChoiceField(label=_("Decision"), choices=[("", "—")] + DECISIONS,
                                 widget=FastSelect)
    reason = forms.ChoiceField(label=_("Reason"), choices=REASONS, widget=FastSelect(attrs={
        "data-violation": " ".join(sorted(VIOLATION_CODES)),
        "data-dismissal": " ".join(sorted(DISMISSAL_CODES)),
    }))
    note = forms.CharField(label=_("Note"), required=False, max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 3}))
    case = forms.CharField(
        label=_("Case number"), required=False, max_length=20,
        help_text=_("When escalating: add to this existing case; leave empty to open a new case."),
    )
    # The queue filter the officer came from (a query string), so that "save and next" can
    # open the next item of that filter. Checked by the decide view, never trusted as a URL.
    queue = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        _check_reason(self, data.get("decision", ""), data.get("reason", ""))
        data["case_obj"] = None
        try:
            data["case_obj"] = case_for_decision(data.get("decision", ""), data.get("case", ""))
        except InvalidDecision as exc:
            self.add_error("case", str(exc))
        return data


class ReverseForm(forms.Form):
    decision = forms.ChoiceField(label=_("New decision"), choices=REVERSALS, widget=FastSelect)
    reason = forms.ChoiceField(label=_("Reason"), choices=REASONS, required=False,
                               widget=FastSelect)
    note = forms.CharField(label=_("Why the decision is reversed"), max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 2}))
    # The latest decision when the page was shown; the template fills it in per item.
    reverses = forms.IntegerField(required=False, min_value=1, max_value=MAX_ID,
                                  widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        decision = data.get("decision", "")
        if decision == ReviewItem.Status.PENDING:
            if data.get("reason"):
                self.add_error("reason", _("Returning an item to the queue takes no reason."))
        else:
            _check_reason(self, decision, data.get("reason", ""))
        return data


_BLANK_HTML: dict[tuple[type, str], str] = {}


def blank_form_html(form_class: type[forms.Form]) -> str:
    """``form_class().as_p()`` kept per language: the ad page, opened all day, shows the same
    empty decision and reversal forms every time, and rendering them costs more than the page's
    queries. The choices are constants, so nothing in the HTML depends on the request; hidden
    fields, which carry per-item values, are left out for the template to write."""
    key = (form_class, get_language() or "")
    html = _BLANK_HTML.get(key)
    if html is None:
        form = form_class()
        for name in [name for name, field in form.fields.items() if field.widget.is_hidden]:
            del form.fields[name]
        html = _BLANK_HTML[key] = form.as_p()
    return html


def decision_form_html(form: DecisionForm | None = None, reason: str = "") -> str:
    """The decision form's fields as HTML, its hidden ``queue`` field left for the template to
    write. Unbound, it is kept per language and suggested ``reason`` (the model's category when
    it is a violation form: the officer then decides in two keystrokes); bound, it is an
    invalid form shown again with its errors and what the officer typed."""
    if form is None:
        key = (DecisionForm, f"{get_language() or ''}:{reason}")
        html = _BLANK_HTML.get(key)
        if html is None:
            form = DecisionForm(initial={"reason": reason} if reason in VIOLATION_CODES else {})
            del form.fields["queue"]
            html = _BLANK_HTML[key] = form.as_p()
        return html
    form.fields.pop("queue", None)
    return form.as_p()


def _check_year(value: date) -> None:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise forms.ValidationError(
            _("Enter a date between the years %(first)d and %(last)d."),
            code="out_of_range", params={"first": FIRST_YEAR, "last": LAST_YEAR},
        )


class _DateRange(forms.Form):
    date_from = forms.DateField(label=_("From"), required=False, validators=[_check_year],
                                widget=FastDate(format="%Y-%m-%d"))
    date_to = forms.DateField(label=_("To"), required=False, validators=[_check_year],
                              widget=FastDate(format="%Y-%m-%d"))
    page = forms.IntegerField(label=_("Page number"), min_value=1, max_value=MAX_PAGE,
                              required=False, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", _("The end date is before the start date."))
        return data

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        """The date range as aware datetimes [start, end) in the bureau's time zone."""
        zone = timezone.get_current_timezone()
        start = end = None
        if self.cleaned_data.get("date_from"):
            start = datetime.combine(self.cleaned_data["date_from"], time.min, tzinfo=zone)
        if self.cleaned_data.get("date_to"):
            end = datetime.combine(self.cleaned_data["date_to"] + timedelta(days=1), time.min,
                                   tzinfo=zone)
        return start, end


class QueueFilterForm(_DateRange):
    """Filters of the queue, which apply to the case exports too."""

    q = forms.CharField(label=_("Search title and text"), required=False, max_length=100,
                        widget=FastText)
    status = forms.ChoiceField(
        label=_("Status"), required=False,
        choices=[(STATUS_ANY, _("any status"))] + list(ReviewItem.Status.choices),
        widget=FastSelect,
    )
    source = SourceChoiceField(
        label=_("Source"), required=False, queryset=Source.objects.all(), to_field_name="name",
        empty_label=_("any source"), widget=FastSelect,
    )
    category = forms.ChoiceField(
        label=_("Form"), required=False,
        choices=[("", _("any form"))] + [(c, CATEGORY_LABELS[c]) for c in sorted(CATEGORY_LABELS)],
        widget=FastSelect,
    )
    region = forms.CharField(label=_("Region"), required=False, max_length=100, widget=FastText)
    score_min = forms.FloatField(label=_("Score from"), required=False, min_value=0, max_value=1,
                                 widget=FastNumber(attrs={"step": "0.01"}))
    score_max = forms.FloatField(label=_("Score to"), required=False, min_value=0, max_value=1,
                                 widget=FastNumber(attrs={"step": "0.01"}))
    mine = forms.BooleanField(label=_("Claimed by me"), required=False, widget=FastCheckbox)
    order = forms.ChoiceField(label=_("Order"), required=False, choices=ORDERS,
                              widget=FastSelect)
    # Places (review_ui/places/): the district and township parsed from the ad, and where it
    # stands against TUTORWATCH_JURISDICTION.
    district = forms.CharField(label=pgettext_lazy("places", "District"), required=False,
                               max_length=32, widget=FastText)
    township = forms.CharField(label=pgettext_lazy("places", "Township"), required=False,
                               max_length=32, widget=FastText)
    jurisdiction = forms.ChoiceField(label=pgettext_lazy("places", "Jurisdiction"), required=False,
                                     choices=STANDING_CHOICES, widget=FastSelect)

    field_order = ["q", "status", "source", "category", "region", "score_min", "score_max",
                   "date_from", "date_to", "mine", "order"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        low, high = data.get("score_min"), data.get("score_max")
        if low is not None and high is not None and low > high:
            self.add_error("score_max", _("The highest score is below the lowest."))
        return data

    def status_value(self, default: str = ReviewItem.Status.PENDING) -> str:
        return self.cleaned_data.get("status") or default

    def apply(self, items: QuerySet, user: Any = None,
              default_status: str = ReviewItem.Status.PENDING) -> QuerySet:
        data = self.cleaned_data
        status = self.status_value(default_status)
        if status != STATUS_ANY:
            items = items.filter(status=status)
        if data.get("source"):
            items = items.filter(ad__source=data["source"])
        if data.get("category"):
            items = items.filter(ad__verdict__category=data["category"])
        if data.get("region"):
            items = items.filter(ad__region__startswith=data["region"].strip())
        if data.get("score_min") is not None:
            items = items.filter(ad__verdict__score__gte=data["score_min"])
        if data.get("score_max") is not None:
            items = items.filter(ad__verdict__score__lte=data["score_max"])
        start, end = self.bounds()
        # The date of an ad: when it was posted, or when first seen if the site shows no date.
        if start is not None:
            items = items.filter(Q(ad__posted_at__gte=start)
                                 | Q(ad__posted_at__isnull=True, ad__first_seen_at__gte=start))
        if end is not None:
            items = items.filter(Q(ad__posted_at__lt=end)
                                 | Q(ad__posted_at__isnull=True, ad__first_seen_at__lt=end))
        query = (data.get("q") or "").strip()
        if query:
            # Words without case (Chinese ones) are matched as written: the same rows, and
            # PostgreSQL then estimates the share of matching ads from the columns' statistics
            # (UPPER(text) has none, so it guessed a few rows and sorted every pending item)
            # and walks the queue's index instead, stopping after a page (issue 22).
            lookup = "icontains" if query.lower() != query.upper() else "contains"
            items = items.filter(Q(**{f"ad__title__{lookup}": query})
                                 | Q(**{f"ad__text__{lookup}": query}))
        if data.get("mine") and user is not None:
            items = items.filter(claimed_by=user)
        items = filter_by_place(items, data)
        return items


class _UserFilter(_DateRange):
    """A filter naming a user. ``users=None``: any user; a user: that user alone, so that a
    name outside the viewer's rights is refused alike whether or not it exists."""

    user_field = ""

    def __init__(self, *args: Any, users: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if users is not None:
            field = self.fields[self.user_field]
            field.queryset = field.queryset.filter(pk=users.pk)


class AuditFilterForm(_UserFilter):
    user_field = "actor"
    actor = forms.ModelChoiceField(
        label=_("User"), required=False, queryset=get_user_model().objects.all(),
        to_field_name="username", empty_label=_("anyone"),
    )
    # A select of the actions' names (AUDIT_ACTIONS), grouped by their codes' order.
    action = forms.ChoiceField(label=_("Action"), required=False, choices=lambda: [
        ("", _("any action")), *sorted(AUDIT_ACTIONS.items())])
    ad = forms.IntegerField(label=_("Ad id"), required=False, min_value=1, max_value=MAX_ID)

    field_order = ["actor", "action", "ad", "date_from", "date_to"]

    def apply(self, events: QuerySet) -> QuerySet:
        data = self.cleaned_data
        if data.get("actor"):
            events = events.filter(actor=data["actor"])
        if data.get("action"):
            events = events.filter(action=data["action"])
        if data.get("ad"):
            events = events.filter(ad_id=data["ad"])
        start, end = self.bounds()
        if start is not None:
            events = events.filter(at__gte=start)
        if end is not None:
            events = events.filter(at__lt=end)
        return events


class WorkFilterForm(_UserFilter):
    user_field = "officer"
    officer = forms.ModelChoiceField(
        label=_("Officer"), required=False, queryset=get_user_model().objects.all(),
        to_field_name="username", empty_label=_("every officer"),
    )

    def apply(self, decisions: QuerySet) -> QuerySet:
        if self.cleaned_data.get("officer"):
            decisions = decisions.filter(officer=self.cleaned_data["officer"])
        start, end = self.bounds()
        if start is not None:
            decisions = decisions.filter(decided_at__gte=start)
        if end is not None:
            decisions = decisions.filter(decided_at__lt=end)
        return decisions




# --- Admin: institution lists -------------------------------------------------------------------

def contact_list(value: Any) -> tuple[list[str], bool]:
    """The contacts a stored phones or WeChat-ids value holds, as strings, and whether it had
    the expected shape (a flat list of strings). Rows written before these fields were checked,
    or by hand, may hold a bare number, a string, null or nested lists: numbers and strings
    count as one contact each, lists are flattened, anything else is skipped."""
    found: list[str] = []

    def walk(node: Any, depth: int) -> bool:
        if isinstance(node, str):
            if node.strip():
                found.append(node.strip())
            return depth == 1
        if isinstance(node, int) and not isinstance(node, bool):
            found.append(str(node))
            return False
        if isinstance(node, (list, tuple)) and depth < 5:
            children = [walk(child, depth + 1) for child in node]
            return depth == 0 and all(children)
        return False

    well_formed = walk(value, 0) and isinstance(value, list)
    return list(dict.fromkeys(found)), well_formed


def _wechat_ids(line: str) -> list[str]:
    found = extract_contact_field(line)
    # A mobile number alone on a line of WeChat ids is an id (WeChat accounts go by them).
    return found["wechat_ids"] or found["phones"]


class ContactLinesField(forms.CharField):
    """Contacts typed one a line, cleaned to the list an ad holds: each line through the
    function that finds that contact in ads (``crawler.entities``), so "159 0000 2468" and
    full-width digits become 15900002468. Blank lines are skipped; an empty field is []. A line
    holding no contact, or several, is an error naming the line. A JSON list (how the field was
    filled before) is read as one item a line."""

    widget = forms.Textarea(attrs={"rows": 4, "cols": 40})

    def __init__(self, *, find: Callable[[str], list[str]], not_one: Any, several: Any,
                 **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(strip=False, **kwargs)
        self.find, self.not_one, self.several = find, not_one, several

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return value  # as typed, when the form is shown again with an error
        return "\n".join(contact_list(value)[0])

    def to_python(self, value: Any) -> list[str]:
        if isinstance(value, list):
            return value
        lines = (value or "").splitlines()
        if (value or "").strip().startswith("["):
            # A JSON list, as this field took before: its items stand for the lines.
            try:
                lines = contact_list(json.loads(value))[0]
            except ValueError:
                pass
        found: list[str] = []
        errors = []
        for number, line in enumerate(lines, start=1):
            text = line.strip()
            if not text:
                continue
            contacts = self.find(text)
            if len(contacts) == 1:
                found.append(contacts[0])
                continue
            parts = [part for part in re.split(r"[\s,，、;；]+", text) if part]
            several = len(contacts) > 1 or sum(bool(self.find(part)) for part in parts) > 1
            message = self.several if several else self.not_one
            errors.append(forms.ValidationError(message, code="invalid",
                                                params={"line": number, "text": text[:60]}))
        if errors:
            raise forms.ValidationError(errors)
        return list(dict.fromkeys(found))


class InstitutionAdminForm(forms.ModelForm):
    phones = ContactLinesField(
        label=_("Phones"), find=extract_phones,
        help_text=_("One mobile number a line; spaces, dashes and full-width digits are fine."),
        not_one=_("Line %(line)d: “%(text)s” is not a mobile number (11 digits starting with "
                  "1; only those can match ads)."),
        several=_("Line %(line)d: write one phone number on each line."),
    )
    wechat_ids = ContactLinesField(
        label=_("WeChat ids"), find=_wechat_ids,
        help_text=_("One WeChat id a line."),
        not_one=_("Line %(line)d: “%(text)s” is not a WeChat id (6 to 20 letters, digits, _ "
                  "or -, starting with a letter; or a mobile number)."),
        several=_("Line %(line)d: write one WeChat id on each line."),
    )

    class Meta:
        model = Institution
        fields = ["name", "kind", "region", "address", "phones", "wechat_ids", "note",
                  "credit_code", "scope"]


# --- Admin: sources -----------------------------------------------------------------------------

class SourceAdminForm(forms.ModelForm):
    """A source's config, edited as the YAML of its file and checked by the loader that checks
    the files (``crawler.config``): worker machines that join a shared crawl read the config
    stored here, so an edit that a file would not pass is refused with the loader's own
    one-line error. The kind follows the config."""

    config = forms.CharField(
        label=_("config (YAML)"), strip=False,
        widget=forms.Textarea(attrs={"rows": 24, "cols": 90, "class": "vLargeTextField"}),
        help_text=_("As in the source's YAML file (JSON is accepted too). It is checked as "
                    "tutorwatch crawl checks a file; crawls that join from other machines use "
                    "what is saved here."),
    )

    class Meta:
        model = Source
        fields = ["name", "config", "config_path"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound and self.instance.config:
            self.initial["config"] = yaml.safe_dump(self.instance.config, allow_unicode=True,
                                                    sort_keys=False, width=1000)

    def clean_config(self) -> dict[str, Any]:
        name = self.cleaned_data.get("name") or self.instance.name or "new"
        try:
            parsed = parse_source_text(self.cleaned_data["config"], origin=f"<admin:{name}>")
        except ConfigError as exc:
            raise forms.ValidationError(_("The config is not valid: %(error)s"),
                                        code="invalid", params={"error": str(exc)}) from None
        if self.cleaned_data.get("name") and parsed.name != name:
            raise forms.ValidationError(
                _("The config is not valid: %(error)s"), code="invalid",
                params={"error": f"<admin:{name}>: key 'name': must be this source's name "
                                 f"{name!r}, got {parsed.name!r}"})
        # YAML may hold dates or other values JSON has no type for (in free text such as
        # "description"): store them as the text they were written as.
        return json.loads(json.dumps(parsed.raw, default=str))

    def save(self, commit: bool = True) -> Source:
        self.instance.kind = self.cleaned_data["config"]["kind"]
        return super().save(commit)
