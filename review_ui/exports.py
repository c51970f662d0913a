"""Exports: every stored ad (JSONL, CSV, XLSX with the fields of ARCHITECTURE.md), confirmed
cases with their evidence for enforcement (CSV, XLSX), and the audit log (CSV).

Spreadsheet cells that a spreadsheet program would run as a formula (=, +, -, @, tab, CR, or
those after leading spaces or control characters) are prefixed with an apostrophe: crawled text
is hostile. In XLSX, control characters are removed first (XML cannot hold them), then the cell
is checked, and every text cell is written as a string, never as a formula.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from itertools import islice
from typing import Any, BinaryIO

from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext

from crawler.entities import extract_entities
from review_ui.highlight import evidence_terms
from review_ui.institutions.matching import export_fields
from review_ui.models import Ad, AuditEvent, Decision, ReviewItem
from review_ui.reasons import CATEGORY_LABELS

FIELDS = ["url", "source", "title", "text", "posted_at", "contacts", "score", "flagged", "status",
          "operator"]
FLAT_FIELDS = ["url", "source", "title", "text", "posted_at", "phones", "wechat_ids", "score",
               "flagged", "status", "category", "fetched_at", "raw_sha256"]
# The operators (review_ui.operators): the id of the ad's operator.
FLAT_FIELDS += ["operator"]
# The licensing lists (review_ui.institutions): the matched institution's name and its list.
FLAT_FIELDS += ["institution", "institution_list"]
LIST_BATCH = 500  # ads matched against the lists at a time
# Where the ad is (issue 19, point 5; review_ui/places/), as the divisions write the names.
PLACE_FIELDS = ["province", "city", "district", "township"]
FIELDS += PLACE_FIELDS
FLAT_FIELDS += PLACE_FIELDS
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Looked past before checking for a formula start: blanks, and the control characters that a
# spreadsheet program or the XLSX writer may drop (tab and CR are formula starts themselves).
_LEADING = " \u3000" + "".join(chr(c) for c in [*range(32), 127] if chr(c) not in "\t\r")


def rows(queryset: Any = None) -> Iterator[dict[str, Any]]:
    ads = (queryset if queryset is not None else Ad.objects.all()).select_related(
        "source", "verdict", "review_item", "operator_link"
    ).defer("raw_page", "contact_raw").order_by("pk")
    for ad, (institution, institution_list) in _with_lists(ads.iterator(chunk_size=500)):
        verdict = ad.verdict
        item = getattr(ad, "review_item", None)
        if item is None and ad.duplicate_group_id is not None:
            item = ad.group_review_item()  # a copy shares its group's review item
        yield {
            "url": ad.url,
            "source": ad.source.name,
            "title": ad.title,
            "text": ad.text,
            "posted_at": timezone.localtime(ad.posted_at).isoformat() if ad.posted_at else None,
            "contacts": {"phones": list(ad.phones), "wechat_ids": list(ad.wechat_ids)},
            "score": verdict.score if verdict else None,
            "flagged": bool(verdict and verdict.label),
            "status": item.status if item else "not_queued",
            "category": verdict.category if verdict else "",
            "fetched_at": timezone.localtime(ad.fetched_at).isoformat(),
            "raw_sha256": ad.raw_sha256,
            "institution": institution,
            "institution_list": institution_list,
            **{name: getattr(ad, name) for name in PLACE_FIELDS},
            # The ad's operator (review_ui.operators); None until linked.
            "operator": getattr(getattr(ad, "operator_link", None), "operator_id", None),
        }


def _with_lists(ads: Iterator[Ad]) -> Iterator[tuple[Ad, tuple[str, str]]]:
    """Each ad with its (institution, institution_list), matched a batch at a time."""
    for batch in iter(lambda: list(islice(ads, LIST_BATCH)), []):
        listed = export_fields(batch)
        for ad in batch:
            yield ad, listed.get(ad.pk, ("", ""))


def safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.lstrip(_LEADING).startswith(_FORMULA_START):
        return "'" + value
    return value


def _flat(row: dict[str, Any]) -> list[Any]:
    flat = dict(row)
    flat["phones"] = "; ".join(row["contacts"]["phones"])
    flat["wechat_ids"] = "; ".join(row["contacts"]["wechat_ids"])
    return ["" if flat[f] is None else flat[f] for f in FLAT_FIELDS]


def write_jsonl(out: BinaryIO, queryset: Any = None) -> int:
    count = 0
    for row in rows(queryset):
        out.write((json.dumps(row, ensure_ascii=False) + "\n").encode())
        count += 1
    return count


def write_csv(out: BinaryIO, queryset: Any = None) -> int:
    # UTF-8 with BOM so that Excel on Chinese Windows opens it correctly.
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=True)
    writer = csv.writer(text)
    writer.writerow(FLAT_FIELDS)
    count = 0
    for row in rows(queryset):
        writer.writerow([safe_cell(v) for v in _flat(row)])
        count += 1
    text.detach()
    return count


def write_xlsx(out: BinaryIO, queryset: Any = None) -> int:
    return table_xlsx(out, FLAT_FIELDS, (_flat(row) for row in rows(queryset)), "ads")


def _xlsx_row(sheet: Any, values: list[Any]) -> list[Any]:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    cells = []
    for value in values:
        if isinstance(value, str):
            # Strip first (openpyxl refuses characters that XML 1.0 cannot hold), then guard:
            # "\x01=..." must not become a formula once the \x01 is gone.
            value = safe_cell(ILLEGAL_CHARACTERS_RE.sub("", value))
        cell = WriteOnlyCell(sheet, value=value)
        if isinstance(value, str):
            cell.data_type = "s"  # text stays text, whatever it starts with
        cells.append(cell)
    return cells


WRITERS = {"jsonl": write_jsonl, "csv": write_csv, "xlsx": write_xlsx}


# --- Tables for enforcement and oversight -------------------------------------------------------

CASE_FIELDS = [
    "case", "item_id", "status", "reason", "decided_by", "decided_at", "note", "url", "source",
    "region", "title", "text", "posted_at", "fetched_at", "phones", "wechat_ids", "addresses",
    "grades", "subjects", "class_times", "prices", "score", "category", "model_version",
    "evidence", "raw_sha256", "ads_sharing_contact",
]
AUDIT_FIELDS = ["id", "at", "actor", "action", "ad_id", "item_id", "detail", "prev_hash", "hash"]
CASE_STATUSES = [ReviewItem.Status.CONFIRMED, ReviewItem.Status.ESCALATED]


def _time(value: Any) -> str:
    return timezone.localtime(value).isoformat() if value else ""


def case_rows(items: QuerySet) -> Iterator[list[Any]]:
    """Confirmed and escalated items with the evidence a case file needs, oldest decision first."""
    last_note = Decision.objects.filter(item=OuterRef("pk")).order_by("-decided_at", "-pk")
    items = (items.filter(status__in=CASE_STATUSES)
             .select_related("ad", "ad__source", "ad__verdict", "decided_by", "case")
             .defer("ad__raw_page", "ad__contact_raw")  # the text is exported, the page is not
             .annotate(last_note=Subquery(last_note.values("note")[:1]))
             .order_by("decided_at", "pk"))
    for item in items.iterator(chunk_size=500):
        ad, verdict = item.ad, item.ad.verdict
        found = extract_entities(f"{ad.title}\n{ad.text}")
        yield [
            item.case.number if item.case else "", item.pk, item.status, item.reason,
            item.decided_by.get_username() if item.decided_by else "", _time(item.decided_at),
            item.last_note or "", ad.url, ad.source.name, ad.region, ad.title, ad.text,
            _time(ad.posted_at) or ad.posted_at_raw, _time(ad.fetched_at),
            "; ".join(ad.phones), "; ".join(ad.wechat_ids), "; ".join(found["addresses"]),
            "; ".join(found["grades"]), "; ".join(found["subjects"]),
            "; ".join(found["class_times"]), "; ".join(found["prices"]),
            verdict.score if verdict else "", verdict.category if verdict else "",
            verdict.model_version if verdict else "",
            "; ".join(evidence_terms(verdict.evidence)) if verdict else "", ad.raw_sha256,
            ad.contact_shares,
        ]


def audit_rows(events: QuerySet) -> Iterator[list[Any]]:
    for event in events.select_related("actor").order_by("at", "pk").iterator(chunk_size=2000):
        yield [event.pk, _time(event.at), event.actor.get_username() if event.actor else "",
               event.action, event.ad_id or "", event.item_id or "",
               json.dumps(event.detail, ensure_ascii=False, sort_keys=True), event.prev_hash,
               event.hash]


def table_csv(out: BinaryIO, header: list[str], rows: Iterator[list[Any]]) -> int:
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=True)
    writer = csv.writer(text)
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow([safe_cell("" if v is None else v) for v in row])
        count += 1
    text.detach()
    return count


def table_xlsx(out: BinaryIO, header: list[str], rows: Iterator[list[Any]], title: str) -> int:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title)
    sheet.append(_xlsx_row(sheet, header))
    count = 0
    for row in rows:
        sheet.append(_xlsx_row(sheet, ["" if v is None else v for v in row]))
        count += 1
    workbook.save(out)
    return count


class _Pending:
    """What ``csv.writer`` wrote since it was last taken: a file for the writer to write to."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        self.parts.append(text)

    def take(self) -> bytes:
        out, self.parts = "".join(self.parts).encode("utf-8"), []
        return out


def stream_csv(header: list[str], rows: Iterator[list[Any]],
               finished: Callable[[int, bool], None] | None = None,
               rows_per_chunk: int = 200) -> Iterator[bytes]:
    """:func:`table_csv`'s bytes (the same BOM, header, quoting and formula guard), a chunk at a
    time for a streamed response: the header at once, then ``rows_per_chunk`` rows at a time, so
    that an export of any size holds one chunk in memory. ``finished(rows, complete)`` is called
    at the end, and when the download stops early (``complete`` false)."""
    pending = _Pending()
    writer = csv.writer(pending)
    writer.writerow(header)
    count, complete = 0, False
    try:
        yield "\ufeff".encode() + pending.take()
        for row in rows:
            writer.writerow([safe_cell("" if v is None else v) for v in row])
            count += 1
            if count % rows_per_chunk == 0:
                yield pending.take()
        if pending.parts:
            yield pending.take()
        complete = True
    finally:
        if finished is not None:
            finished(count, complete)


def stream_cases(items: QuerySet, finished: Callable[[int, bool], None] | None = None
                 ) -> Iterator[bytes]:
    """The CSV case export of :func:`write_cases`, byte for byte, as a stream of chunks."""
    return stream_csv([str(CASE_HEADERS[f]) for f in CASE_FIELDS],
                      (people_row(row, for_csv=True) for row in case_rows(items)), finished)


def write_cases(out: BinaryIO, items: QuerySet, fmt: str) -> int:
    """The case export officers download from the UI: for people, in the page's language."""
    if fmt == "xlsx":
        return people_xlsx(out, case_rows(items))
    return table_csv(out, [str(CASE_HEADERS[f]) for f in CASE_FIELDS],
                     (people_row(row, for_csv=True) for row in case_rows(items)))


# --- The case export for people ----------------------------------------------------------------
# Officers read the download, machines read ``tutorwatch export`` and the API: those keep the
# field names and codes above; this one says everything in words, times to the minute and scores
# to two decimals (the model's 0.999926 means nothing more to an officer than 1.00).

CASE_HEADERS = {
    "case": _("Case number"), "item_id": _("Review item"), "status": _("Status"),
    "reason": _("Reason / form"), "decided_by": _("Decided by"), "decided_at": _("Decided at"),
    "note": _("Note"), "url": _("Ad address"), "source": _("Source"), "region": _("Region"),
    "title": _("Title"), "text": _("Ad text"), "posted_at": _("Posted at"),
    "fetched_at": _("Fetched at"), "phones": _("Phone numbers"), "wechat_ids": _("WeChat IDs"),
    "addresses": _("Addresses"), "grades": _("Grades"), "subjects": _("Subjects"),
    "class_times": _("Class times"), "prices": _("Prices"), "score": _("Model score"),
    "category": _("Model category"), "model_version": _("Model version"),
    "evidence": _("Evidence words"), "raw_sha256": _("Page SHA-256"),
    "ads_sharing_contact": _("Ads sharing a contact"),
}
# Characters wide, as a spreadsheet counts them; a CJK character counts about two.
CASE_WIDTHS = {
    "case": 16, "item_id": 10, "status": 10, "reason": 22, "decided_by": 12, "decided_at": 17,
    "note": 30, "url": 40, "source": 16, "region": 16, "title": 36, "text": 60, "posted_at": 17,
    "fetched_at": 17, "phones": 16, "wechat_ids": 16, "addresses": 30, "grades": 14,
    "subjects": 14, "class_times": 20, "prices": 14, "score": 10, "category": 22,
    "model_version": 16, "evidence": 24, "raw_sha256": 20, "ads_sharing_contact": 12,
}
_TIME_FIELDS = ("decided_at", "posted_at", "fetched_at")
_MINUTE = "%Y-%m-%d %H:%M"
_STATUS_LABELS = dict(ReviewItem.Status.choices)


def _minute(value: Any, for_csv: bool) -> Any:
    """An ISO time of case_rows as local time to the minute: text in CSV, a date in XLSX (so
    that a spreadsheet sorts and filters it); anything else (a raw posted time) as it was."""
    try:
        moment = timezone.localtime(datetime.fromisoformat(value))
    except (TypeError, ValueError):
        return value
    if for_csv:
        return moment.strftime(_MINUTE)
    return moment.replace(second=0, microsecond=0, tzinfo=None)


def people_row(row: list[Any], for_csv: bool) -> list[Any]:
    """A row of case_rows in words: status, reason and category labels, minutes, two decimals."""
    values = dict(zip(CASE_FIELDS, row, strict=True))
    values["status"] = str(_STATUS_LABELS.get(values["status"], values["status"]))
    for field in ("reason", "category"):
        values[field] = str(CATEGORY_LABELS.get(values[field], values[field]))
    for field in _TIME_FIELDS:
        values[field] = _minute(values[field], for_csv)
    if isinstance(values["score"], float):
        values["score"] = f"{values['score']:.2f}" if for_csv else round(values["score"], 2)
    return [values[f] for f in CASE_FIELDS]


def people_xlsx(out: BinaryIO, rows: Iterator[list[Any]]) -> int:
    """The case export as a workbook an officer can read at once: a sheet named in the page's
    language, column widths, the header row frozen, dates and scores formatted."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(pgettext("spreadsheet", "Cases"))
    for index, field in enumerate(CASE_FIELDS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = CASE_WIDTHS[field]
    sheet.freeze_panes = "A2"
    header = []
    for field in CASE_FIELDS:
        cell = WriteOnlyCell(sheet, value=str(CASE_HEADERS[field]))
        cell.font, cell.alignment = Font(bold=True), Alignment(wrap_text=True)
        header.append(cell)
    sheet.append(header)
    formats = {CASE_FIELDS.index(f): "yyyy-mm-dd hh:mm" for f in _TIME_FIELDS}
    formats[CASE_FIELDS.index("score")] = "0.00"
    count = 0
    for row in rows:
        cells = _xlsx_row(sheet, ["" if v is None else v for v in people_row(row, for_csv=False)])
        for index, number_format in formats.items():
            if not isinstance(cells[index].value, str):
                cells[index].number_format = number_format
        sheet.append(cells)
        count += 1
    workbook.save(out)
    return count


def write_audit_csv(out: BinaryIO, events: QuerySet | None = None) -> int:
    return table_csv(out, AUDIT_FIELDS, audit_rows(events if events is not None
                                                    else AuditEvent.objects.all()))
