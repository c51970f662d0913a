"""The 12345 hotline's export as leads: ``tutorwatch leads import FILE`` (CSV or XLSX).

The first row names the columns; each is recognised by one of the names below (Chinese or
English, spaces and case aside). Where an export has two columns for one field (来电时间 and
受理时间), the first name in the list wins.

========================  =========================================================  =========
field                     column names                                               required
========================  =========================================================  =========
ticket number             工单编号, 工单号, 受理编号, ticket                          yes
received                  来电时间, 受理时间, 登记时间, 反映时间, received_at          yes
complaint                 诉求内容, 反映内容, 投诉内容, 来电内容, 内容, text           yes
institution named         涉及机构, 被反映机构, 被投诉机构, 机构名称, institution      no
phones named              联系电话, 涉及电话, 被反映电话, 机构电话, phones             no
WeChat ids named          微信号, 涉及微信, 微信, wechat_ids                          no
place                     地址, 事发地址, 反映地址, 地点, place                        no
channel                   来源, 渠道, 受理渠道, channel                                no
========================  =========================================================  =========

A channel cell reading 来信/信件/letter makes a letter, 来访/走访/visit a visit, 其他/other
other; anything else (12345, 热线, empty) the hotline. Columns with the caller's own number
(来电号码, 来电人电话, 主叫号码, caller_phone) are never read: a resident's number must not be
matched against ads. If your export's 联系电话 is the caller's number, delete that column first.

A CSV may be UTF-8 (with or without a byte-order mark) or GBK/GB18030, as Excel saves it on a
Chinese Windows. Times: ``2026-11-30 14:22[:05]``, ``2026/11/30 14:22``,
``2026年11月30日 14时22分``, a date alone (midnight),
or an Excel date cell; read in the UI's time zone.

Nothing is imported unless every row is good: a missing column, or a bad row (no ticket number,
no complaint, a time that cannot be read, a phone or WeChat cell that names none, the same ticket
twice in the file), is reported by its row number as a spreadsheet shows it (the header is row
1). A ticket already stored is left as it is (a re-import of a longer export adds only the new
tickets). One import is one transaction with one audit row.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from review_ui.intake.leads import (
    TEXT_CHARS,
    ContactsUnreadable,
    fold,
    index,
    is_placeholder,
    new_lead,
    read_phones,
    read_wechat_ids,
)
from review_ui.models import AuditEvent, Lead

COLUMNS: dict[str, tuple[str, ...]] = {
    "ticket": ("工单编号", "工单号", "受理编号", "ticket"),
    "received_at": ("来电时间", "受理时间", "登记时间", "反映时间", "received_at"),
    "text": ("诉求内容", "反映内容", "投诉内容", "来电内容", "内容", "text"),
    "institution": ("涉及机构", "被反映机构", "被投诉机构", "机构名称", "institution"),
    "phones": ("联系电话", "涉及电话", "被反映电话", "机构电话", "phones"),
    "wechat_ids": ("微信号", "涉及微信", "微信", "wechat_ids"),
    "place": ("地址", "事发地址", "反映地址", "地点", "place"),
    "channel": ("来源", "渠道", "受理渠道", "channel"),
}
REQUIRED = ("ticket", "received_at", "text")
CALLER_COLUMNS = ("来电号码", "来电人电话", "主叫号码", "caller_phone")
CHANNELS = {"来信": Lead.Channel.LETTER, "信件": Lead.Channel.LETTER, "letter": Lead.Channel.LETTER,
            "来访": Lead.Channel.VISIT, "走访": Lead.Channel.VISIT, "visit": Lead.Channel.VISIT,
            "其他": Lead.Channel.OTHER, "other": Lead.Channel.OTHER}
_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M",
                 "%Y年%m月%d日 %H时%M分%S秒", "%Y年%m月%d日 %H时%M分", "%Y年%m月%d日 %H:%M:%S",
                 "%Y年%m月%d日 %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M")
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日", "%Y%m%d")


class LeadFileError(ValueError):
    """A file that cannot be imported; ``problems`` lists each reason (row numbers included).
    Nothing was imported."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class ImportResult:
    created: list[Lead] = field(default_factory=list)
    already: list[str] = field(default_factory=list)  # ticket numbers stored before


def _header_key(name: Any) -> str:
    return re.sub(r"\s+", "", fold(str(name or ""))).lower()


def read_rows(path: Path, name: str = "") -> list[list[Any]]:
    """The file's rows (the header first) as cells; LeadFileError for a file it cannot read.
    Its kind is told by ``name`` (default: the path's)."""
    name = name or path.name
    suffix = Path(name).suffix.lower()
    if suffix == ".xlsx":
        return _xlsx_rows(path, name)
    if suffix in (".csv", ".txt"):
        try:
            return list(csv.reader(io.StringIO(_decode(path.read_bytes()), newline="")))
        except csv.Error as exc:
            raise LeadFileError([_("%(name)s is not a readable CSV file (%(error)s).")
                                 % {"name": name, "error": exc}]) from None
    raise LeadFileError([_("%(name)s: only .csv and .xlsx files can be imported (save an .xls "
                           "file as .xlsx first).") % {"name": name}])


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict")
    for encoding in ("utf-8", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise LeadFileError([_("The file is neither UTF-8 nor GBK text; save it from Excel as "
                           "\"CSV UTF-8\" or as .xlsx.")])


def _xlsx_rows(path: Path, name: str) -> list[list[Any]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise LeadFileError([_("%(name)s could not be read as an Excel workbook (%(error)s).")
                             % {"name": name, "error": type(exc).__name__}]) from None
    try:
        sheet = book.worksheets[0]
        return [list(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        book.close()


def _columns(header: list[Any]) -> dict[str, int]:
    keys = [_header_key(cell) for cell in header]
    found: dict[str, int] = {}
    for name, aliases in COLUMNS.items():
        for alias in aliases:
            if _header_key(alias) in keys:
                found[name] = keys.index(_header_key(alias))
                break
    missing = [name for name in REQUIRED if name not in found]
    if missing:
        raise LeadFileError([_("Missing column: %(name)s (or one of: %(others)s).") % {
            "name": COLUMNS[name][0], "others": ", ".join(COLUMNS[name][1:])}
            for name in missing])
    return found


def _cell(row: list[Any], column: int | None) -> Any:
    if column is None or column >= len(row):
        return None
    return row[column]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a ticket number or phone Excel stored as a number
    if isinstance(value, datetime | date):
        return value.isoformat(sep=" ")
    return str(value).strip()


def parse_time(value: Any) -> datetime | None:
    """A received time from a cell; None when it cannot be read."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time())
    else:
        raw = re.sub(r"\s+", " ", fold(_text(value))).strip()
        moment = None
        for fmt in _TIME_FORMATS:
            try:
                moment = datetime.strptime(raw, fmt)
                break
            except ValueError:
                continue
        if moment is None:
            for fmt in _DATE_FORMATS:
                try:
                    moment = datetime.strptime(raw, fmt)
                    break
                except ValueError:
                    continue
        if moment is None:
            return None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def _channel(value: Any) -> str:
    return CHANNELS.get(_text(value).lower(), Lead.Channel.HOTLINE)


def parse(rows: list[list[Any]]) -> list[tuple[int, dict[str, Any], str]]:
    """Checked rows as (row number, values for :func:`new_lead`, contacts as given);
    LeadFileError listing every problem."""
    rows = list(rows)
    while rows and not any(_text(cell) for cell in rows[0]):
        rows.pop(0)
    if not rows:
        raise LeadFileError([_("The file is empty.")])
    columns = _columns(rows[0])
    problems: list[str] = []
    good: list[tuple[int, dict[str, Any], str]] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(_text(cell) for cell in row):
            continue
        values = {name: _cell(row, column) for name, column in columns.items()}
        wrong: list[str] = []
        ticket = _text(values.get("ticket"))[:64]
        if not ticket:
            wrong.append(_("no ticket number"))
        elif ticket in seen:
            wrong.append(_("ticket %(ticket)s is also on row %(row)d") % {
                "ticket": ticket, "row": seen[ticket]})
        else:
            seen[ticket] = number
        received = parse_time(values.get("received_at"))
        if received is None:
            wrong.append(_("the time “%(value)s” cannot be read") % {
                "value": _text(values.get("received_at"))[:40]})
        text = _text(values.get("text"))
        if not text:
            wrong.append(_("no complaint text"))
        elif len(text) > TEXT_CHARS:
            wrong.append(_("the complaint is longer than %(n)d characters") % {"n": TEXT_CHARS})
        phones_raw, wechat_raw = _text(values.get("phones")), _text(values.get("wechat_ids"))
        try:
            phones = read_phones(phones_raw)
        except ContactsUnreadable:
            phones = []
            wrong.append(_("no phone number can be read in “%(value)s”") % {
                "value": phones_raw[:40]})
        try:
            wechat_ids = read_wechat_ids(wechat_raw)
        except ContactsUnreadable:
            wechat_ids = []
            wrong.append(_("no WeChat id can be read in “%(value)s”") % {
                "value": wechat_raw[:40]})
        if wrong:
            problems.append(_("Row %(row)d: %(problems)s.") % {
                "row": number, "problems": _("; ").join(wrong)})
            continue
        raw = "\n".join(part for part in (phones_raw, wechat_raw) if not is_placeholder(part))
        good.append((number, {
            "ticket": ticket, "received_at": received, "text": text,
            "institution": _text(values.get("institution"))[:200],
            "place": _text(values.get("place"))[:300], "phones": phones,
            "wechat_ids": wechat_ids, "channel": _channel(values.get("channel")),
        }, raw))
    if problems:
        raise LeadFileError(problems)
    return good


def import_leads(path: Path, entered_by: Any = None, name: str = "") -> ImportResult:
    """Import a hotline export (see the module's docstring); LeadFileError changes nothing.
    ``name`` is the file's name as its sender called it (an upload is kept under another)."""
    name = name or path.name
    checked = parse(read_rows(path, name))
    result = ImportResult()
    with transaction.atomic():
        stored = set(Lead.objects.filter(ticket__in=[values["ticket"] for _, values, _ in checked])
                     .values_list("ticket", flat=True))
        for number, values, raw in checked:
            if values["ticket"] in stored:
                result.already.append(values["ticket"])
                continue
            result.created.append(new_lead(values, entered_by=entered_by, contacts_raw=raw,
                                           imported_from=f"{name}:{number}"))
        Lead.objects.bulk_create(result.created)
        if result.created and result.created[0].pk is None:  # backends that return no ids
            tickets = [lead.ticket for lead in result.created]
            result.created = list(Lead.objects.filter(ticket__in=tickets))
        index(result.created)
        AuditEvent.record(entered_by, "leads.imported", detail={
            "file": name, "rows": len(checked), "created": len(result.created),
            "already_stored": len(result.already)})
    return result
