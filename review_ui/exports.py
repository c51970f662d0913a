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
from collections.abc import Iterator
from typing import Any, BinaryIO

from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from crawler.entities import extract_entities
from review_ui.highlight import evidence_terms
from review_ui.models import Ad, AuditEvent, Decision, ReviewItem

FIELDS = ["url", "source", "title", "text", "posted_at", "contacts", "score", "flagged", "status"]
FLAT_FIELDS = ["url", "source", "title", "text", "posted_at", "phones", "wechat_ids", "score",
               "flagged", "status", "category", "fetched_at", "raw_sha256"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Looked past before checking for a formula start: blanks, and the control characters that a
# spreadsheet program or the XLSX writer may drop (tab and CR are formula starts themselves).
_LEADING = " \u3000" + "".join(chr(c) for c in [*range(32), 127] if chr(c) not in "\t\r")


def rows(queryset: Any = None) -> Iterator[dict[str, Any]]:
    ads = (queryset if queryset is not None else Ad.objects.all()).select_related(
        "source", "verdict", "review_item"
    ).defer("raw_page", "contact_raw").order_by("pk")
    for ad in ads.iterator(chunk_size=500):
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
        }


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


def write_cases(out: BinaryIO, items: QuerySet, fmt: str) -> int:
    if fmt == "xlsx":
        return table_xlsx(out, CASE_FIELDS, case_rows(items), "cases")
    return table_csv(out, CASE_FIELDS, case_rows(items))


def write_audit_csv(out: BinaryIO, events: QuerySet | None = None) -> int:
    return table_csv(out, AUDIT_FIELDS, audit_rows(events if events is not None
                                                    else AuditEvent.objects.all()))
