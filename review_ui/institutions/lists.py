"""A bureau's white or black list as institutions: ``tutorwatch institutions import FILE`` (CSV
or XLSX).

The header row is the first of the top rows that names the institution column and one other
(a title such as "XX县校外培训机构白名单" may stand above it, in merged cells). Columns are
recognised by these names (Chinese or English, spaces and case aside):

========================  ==================================================  ========
field                     column names                                        required
========================  ==================================================  ========
name                      机构名称, 培训机构名称, 单位名称, 名称, name         yes
credit code               统一社会信用代码, 社会信用代码, 信用代码, credit_code  no
address                   地址, 办学地址, 机构地址, 注册地址, address          no
phones                    联系电话, 电话, 联系方式, phones                     no
WeChat ids                微信号, 微信, wechat_ids                             no
list                      名单, 名单类型, 类型, list                           see below
scope                     许可范围, 办学范围, 培训范围, 经营范围, scope        no
region                    所属区域, 区域, 区县, region                         no
========================  ==================================================  ========

The list cell says 白名单 (or licensed, whitelist) or 黑名单 (or blacklisted, blacklist); a
file without that column, or an empty cell, takes the list given to the command (``--list``).
Merged cells read as their top-left cell, in every row they cover. Phones may be several in a
cell, separated by 、 ; , or spaces, written in any of the ways ads write them (full-width
digits, dashes, +86, spaces, a landline with its area code); they are normalised as ads' and
leads' contacts are (``review_ui.intake.leads.read_phones``).

A CSV may be UTF-8 (with or without a byte-order mark) or GBK/GB18030. Nothing is imported unless
every row is good: an empty name, a credit code that is not one or appears twice in the file, an
unknown list, an unreadable phone are each reported with the row number the spreadsheet shows.
A re-import updates the institutions of the same credit code (rows without one: of the same
name, among those without a code) and adds the others. One import is one transaction with one
audit row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from review_ui.institutions import matching, names
from review_ui.intake.lead_files import LeadFileError, read_rows
from review_ui.intake.leads import (
    ContactsUnreadable,
    fold,
    is_placeholder,
    read_phones,
    read_wechat_ids,
)
from review_ui.models import AuditEvent, Institution

COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("机构名称", "培训机构名称", "单位名称", "名称", "name"),
    "credit_code": ("统一社会信用代码", "社会信用代码", "信用代码", "credit_code"),
    "address": ("地址", "办学地址", "机构地址", "注册地址", "address"),
    "phones": ("联系电话", "电话", "联系方式", "phones", "phone"),
    "wechat_ids": ("微信号", "微信", "wechat_ids", "wechat"),
    "list": ("名单", "名单类型", "类型", "list"),
    "scope": ("许可范围", "办学范围", "培训范围", "经营范围", "scope"),
    "region": ("所属区域", "区域", "区县", "region"),
}
LISTS = {
    "白名单": Institution.Kind.LICENSED, "白": Institution.Kind.LICENSED,
    "licensed": Institution.Kind.LICENSED, "whitelist": Institution.Kind.LICENSED,
    "黑名单": Institution.Kind.BLACKLISTED, "黑": Institution.Kind.BLACKLISTED,
    "blacklisted": Institution.Kind.BLACKLISTED, "blacklist": Institution.Kind.BLACKLISTED,
}
HEADER_ROWS = 20  # the header is looked for among this many top rows
# GB 32100-2015: 18 characters of this alphabet, the last a check character.
CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


class ListFileError(ValueError):
    """A list that cannot be imported; ``problems`` says why, row numbers included. Nothing was
    imported."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class ImportResult:
    created: list[Institution] = field(default_factory=list)
    updated: list[Institution] = field(default_factory=list)


def valid_credit_code(code: str) -> bool:
    if len(code) != 18 or any(ch not in CODE_ALPHABET for ch in code):
        return False
    total = sum(CODE_ALPHABET.index(ch) * w for ch, w in zip(code, CODE_WEIGHTS, strict=False))
    return CODE_ALPHABET[(31 - total % 31) % 31] == code[17]


def _key(value: Any) -> str:
    return re.sub(r"\s+", "", fold(str(value or ""))).lower()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a phone Excel stored as a number
    return re.sub(r"\s+", " ", str(value)).strip()


def _xlsx_rows(path: Path, name: str) -> list[list[Any]]:
    """The first sheet's rows, each merged range's value in every cell it covers."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, data_only=True)  # not read-only: merged ranges are needed
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise ListFileError([_("%(name)s could not be read as an Excel workbook (%(error)s).")
                             % {"name": name, "error": type(exc).__name__}]) from None
    try:
        sheet = book.worksheets[0]
        rows = [list(row) for row in sheet.iter_rows(values_only=True)]
        for merged in sheet.merged_cells.ranges:
            value = rows[merged.min_row - 1][merged.min_col - 1]
            for r in range(merged.min_row, merged.max_row + 1):
                for c in range(merged.min_col, merged.max_col + 1):
                    rows[r - 1][c - 1] = value
        return rows
    finally:
        book.close()


def read_list_rows(path: Path, name: str = "") -> list[list[Any]]:
    name = name or path.name
    if Path(name).suffix.lower() == ".xlsx":
        return _xlsx_rows(path, name)
    try:
        return read_rows(path, name)
    except LeadFileError as exc:
        raise ListFileError(exc.problems) from None


def _find_header(rows: list[list[Any]]) -> tuple[int, dict[str, int]]:
    aliases = {_key(alias): column for column, names_ in COLUMNS.items() for alias in names_}
    for number, row in enumerate(rows[:HEADER_ROWS]):
        found: dict[str, int] = {}
        for index, cell in enumerate(row):
            column = aliases.get(_key(cell))
            if column and column not in found:
                found[column] = index
        if "name" in found and len(found) >= 2:
            return number, found
    raise ListFileError([_("No header row found in the first %(n)d rows: it needs a column "
                           "%(name)s (or one of: %(others)s) and one other known column.")
                         % {"n": HEADER_ROWS, "name": COLUMNS["name"][0],
                            "others": ", ".join(COLUMNS["name"][1:])}])


def parse(rows: list[list[Any]], default_list: str = "") -> list[tuple[int, dict[str, Any]]]:
    """Checked rows as (row number, field values); ListFileError listing every problem."""
    if not any(_text(cell) for row in rows for cell in row):
        raise ListFileError([_("The file is empty.")])
    header, columns = _find_header(rows)
    if "list" not in columns and not default_list:
        raise ListFileError([_("The file has no column %(name)s (白名单 or 黑名单): say which "
                               "list it is with --list licensed or --list blacklisted.")
                             % {"name": COLUMNS["list"][0]}])
    problems: list[str] = []
    good: list[tuple[int, dict[str, Any]]] = []
    codes: dict[str, int] = {}
    for number, row in enumerate(rows[header + 1:], start=header + 2):
        values = {column: _text(row[i]) if i < len(row) else ""
                  for column, i in columns.items()}
        if not any(values.values()):
            continue
        wrong: list[str] = []
        name = values.get("name", "")
        if not name:
            wrong.append(_("no institution name"))
        elif len(name) > 200:
            wrong.append(_("the name is longer than 200 characters"))
        code = re.sub(r"\s+", "", fold(values.get("credit_code", ""))).upper()
        if is_placeholder(code):
            code = ""
        if code and not valid_credit_code(code):
            wrong.append(_("“%(code)s” is not a unified social credit code (18 characters, "
                           "the last a check character)") % {"code": code[:30]})
        elif code in codes:
            wrong.append(_("credit code %(code)s is also on row %(row)d")
                         % {"code": code, "row": codes[code]})
        elif code:
            codes[code] = number
        listed = values.get("list", "")
        kind = LISTS.get(_key(listed)) if listed else default_list
        if not kind:
            wrong.append(_("the list “%(value)s” is neither 白名单 nor 黑名单")
                         % {"value": listed[:20]})
        try:
            phones = read_phones(values.get("phones", ""))
        except ContactsUnreadable:
            phones = []
            wrong.append(_("no phone number can be read in “%(value)s”")
                         % {"value": values.get("phones", "")[:40]})
        try:
            wechat_ids = read_wechat_ids(values.get("wechat_ids", ""))
        except ContactsUnreadable:
            wechat_ids = []
            wrong.append(_("no WeChat id can be read in “%(value)s”")
                         % {"value": values.get("wechat_ids", "")[:40]})
        if wrong:
            problems.append(_("Row %(row)d: %(problems)s.") % {
                "row": number, "problems": _("; ").join(wrong)})
            continue
        checked: dict[str, Any] = {
            "name": name, "credit_code": code, "kind": kind, "phones": phones,
            "address": values.get("address", "")[:300], "scope": values.get("scope", "")[:500],
        }
        if "wechat_ids" in columns:
            checked["wechat_ids"] = wechat_ids
        if "region" in columns:
            checked["region"] = values["region"][:100]
        good.append((number, checked))
    if problems:
        raise ListFileError(problems)
    if not good:
        raise ListFileError([_("The file has a header but no institutions.")])
    return good


def import_list(path: Path, default_list: str = "", imported_by: Any = None,
                name: str = "") -> ImportResult:
    """Import a list file (see the module's docstring); ListFileError changes nothing."""
    name = name or path.name
    checked = parse(read_list_rows(path, name), default_list)
    result = ImportResult()
    with transaction.atomic():
        by_code = {inst.credit_code: inst for inst in Institution.objects.filter(
            credit_code__in=[v["credit_code"] for _, v in checked if v["credit_code"]])}
        by_name: dict[str, Institution] = {}
        for inst in Institution.objects.filter(
                credit_code="", name_key__in=[names.name_key(v["name"]) for _, v in checked
                                              if not v["credit_code"]]).order_by("pk"):
            by_name.setdefault(inst.name_key, inst)
        for _number, values in checked:
            inst = (by_code.get(values["credit_code"]) if values["credit_code"]
                    else by_name.pop(names.name_key(values["name"]), None))
            if inst is None:
                inst = Institution()
                result.created.append(inst)
            else:
                result.updated.append(inst)
            for attribute, value in values.items():
                setattr(inst, attribute, value)
            matching.set_brand(inst)
        fields = ["name", "credit_code", "kind", "phones", "address", "scope", "wechat_ids",
                  "region", "brand", "brand_regions", "name_key", "updated_at"]
        Institution.objects.bulk_create(result.created, batch_size=1000)
        if result.updated:
            now = timezone.now()
            for inst in result.updated:
                inst.updated_at = now
            Institution.objects.bulk_update(result.updated, fields, batch_size=1000)
        if result.created and result.created[0].pk is None:  # backends that return no ids
            raise RuntimeError("the database returned no ids for the new institutions")
        matching.index_contacts(result.created + result.updated)
        matching.bump_version()
        AuditEvent.record(imported_by, "institutions.imported", detail={
            "file": name, "rows": len(checked), "created": len(result.created),
            "updated": len(result.updated),
            "lists": sorted({values["kind"] for _, values in checked})})
    return result
