"""Exports of stored ads: JSONL, CSV and XLSX with the fields of ARCHITECTURE.md.

Spreadsheet cells that a spreadsheet program would run as a formula (=, +, -, @, tab, CR at
the start) are prefixed with an apostrophe: crawled text is hostile.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any, BinaryIO

from django.utils import timezone

from review_ui.models import Ad

FIELDS = ["url", "source", "title", "text", "posted_at", "contacts", "score", "flagged", "status"]
FLAT_FIELDS = ["url", "source", "title", "text", "posted_at", "phones", "wechat_ids", "score",
               "flagged", "status", "category", "fetched_at", "raw_sha256"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def rows(queryset: Any = None) -> Iterator[dict[str, Any]]:
    ads = (queryset if queryset is not None else Ad.objects.all()).select_related(
        "source", "verdict", "review_item"
    ).order_by("pk")
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
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _flat(row: dict[str, Any]) -> list[Any]:
    flat = dict(row)
    flat["phones"] = "; ".join(row["contacts"]["phones"])
    flat["wechat_ids"] = "; ".join(row["contacts"]["wechat_ids"])
    return [safe_cell("" if flat[f] is None else flat[f]) for f in FLAT_FIELDS]


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
        writer.writerow(_flat(row))
        count += 1
    text.detach()
    return count


def write_xlsx(out: BinaryIO, queryset: Any = None) -> int:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("ads")
    sheet.append(FLAT_FIELDS)
    count = 0
    for row in rows(queryset):
        sheet.append([_xlsx_value(v) for v in _flat(row)])
        count += 1
    workbook.save(out)
    return count


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, str):
        # openpyxl refuses control characters that XML 1.0 cannot hold.
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        return ILLEGAL_CHARACTERS_RE.sub("", value)
    return value


WRITERS = {"jsonl": write_jsonl, "csv": write_csv, "xlsx": write_xlsx}
