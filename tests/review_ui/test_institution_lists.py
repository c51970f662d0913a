"""``tutorwatch institutions import``: white and black lists as bureaus send them (CSV in GBK or
UTF-8 with a BOM, XLSX with a title above the header and merged cells), every bad row named by
number with nothing imported, and a re-import updating by credit code."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from openpyxl import Workbook

from review_ui.institutions.lists import CODE_ALPHABET, CODE_WEIGHTS, valid_credit_code
from review_ui.institutions.models import InstitutionContact
from review_ui.models import AuditEvent, Institution

pytestmark = pytest.mark.django_db

HEADER = ["机构名称", "统一社会信用代码", "地址", "联系电话", "名单", "许可范围"]


def credit_code(number: int) -> str:
    """A well-formed unified social credit code (its check character computed)."""
    body = f"9143010{number:010d}"[:17]
    total = sum(CODE_ALPHABET.index(ch) * w for ch, w in zip(body, CODE_WEIGHTS, strict=True))
    return body + CODE_ALPHABET[(31 - total % 31) % 31]


def write_csv(path: Path, rows: list[list[str]], encoding: str) -> Path:
    text = "\r\n".join(",".join(row) for row in rows) + "\r\n"
    path.write_bytes(text.encode(encoding))
    return path


def run_import(path: Path, *args: str) -> str:
    out = StringIO()
    call_command("institutions", "import", str(path), *args, stdout=out, stderr=out)
    return out.getvalue()


def refused(path: Path, *args: str) -> str:
    err = StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("institutions", "import", str(path), *args, stdout=StringIO(), stderr=err)
    return err.getvalue() + str(raised.value)


def test_the_check_character_of_a_credit_code_is_checked():
    good = credit_code(42)
    assert valid_credit_code(good)
    wrong = good[:17] + ("0" if good[17] != "0" else "1")
    assert not valid_credit_code(wrong) and not valid_credit_code(good[:17])
    assert not valid_credit_code(good[:16] + "I" + good[17])  # I is not in the alphabet


def test_a_gbk_csv_with_a_title_row_is_imported_with_its_contacts_indexed(tmp_path):
    path = write_csv(tmp_path / "白名单.csv", [
        ["天心区校外培训机构白名单（2026年11月）", "", "", "", "", ""],
        HEADER,
        ["长沙市天心区启航教育培训学校有限公司", credit_code(1), "天心区书院路9号",
         "139 1234 5678、0731-8888 6666", "白名单", "文化艺术类：美术、舞蹈"],
        ["长沙市博雅文化艺术培训中心", credit_code(2), "", "13812345678", "黑名单", ""],
    ], "gbk")
    output = run_import(path)
    assert "2" in output
    qihang = Institution.objects.get(credit_code=credit_code(1))
    assert qihang.name == "长沙市天心区启航教育培训学校有限公司"
    assert qihang.kind == Institution.Kind.LICENSED and qihang.scope == "文化艺术类：美术、舞蹈"
    assert qihang.phones == ["13912345678", "073188886666"]
    assert qihang.brand == "启航"
    assert Institution.objects.get(credit_code=credit_code(2)).kind == "blacklisted"
    assert set(InstitutionContact.objects.filter(institution=qihang).values_list(
        "kind", "value")) == {("phone", "13912345678"), ("wechat", "13912345678"),
                              ("phone", "073188886666")}
    event = AuditEvent.objects.get(action="institutions.imported")
    assert event.detail["created"] == 2 and event.detail["file"] == "白名单.csv"


def test_a_utf8_csv_with_a_bom_and_english_headers(tmp_path):
    path = write_csv(tmp_path / "list.csv", [
        ["name", "credit_code", "address", "phones", "list", "scope"],
        ["星火教育", credit_code(3), "", "13700001111", "blacklisted", ""],
    ], "utf-8-sig")
    run_import(path)
    assert Institution.objects.get().name == "星火教育"  # the BOM is not part of "name"


def test_five_spellings_of_phones_in_one_cell_are_normalised(tmp_path):
    cell = "139-1234-5678；＋86 138 0000 1111,１３７００００２２２２ 136.0000.3333、(0731)85551234"
    path = write_csv(tmp_path / "l.csv", [HEADER, ["某机构", "", "", f'"{cell}"', "白名单", ""]],
                     "utf-8")
    run_import(path)
    assert Institution.objects.get().phones == [
        "13912345678", "13800001111", "13700002222", "13600003333", "073185551234"]


def xlsx_with_merged_cells(path: Path) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.append(["某县校外培训机构名单"])
    sheet.merge_cells("A1:F1")
    sheet.append(["（截至2026年11月30日）"])
    sheet.append(HEADER)  # the header on row 3
    sheet.append(["长沙市天心区启航教育培训学校有限公司", credit_code(10), "书院路9号",
                  "13912345678", "白名单", "学科类：数学、英语"])
    sheet.append(["长沙市明德艺术培训中心", credit_code(11), "劳动路1号", "13912340000", None,
                  None])
    sheet.append(["长沙市小天才托管中心", credit_code(12), "", 13912349999, "黑名单", ""])
    sheet.merge_cells("E4:E5")  # 白名单 for rows 4 and 5
    sheet.merge_cells("F4:F5")
    book.save(path)
    return path


def test_an_xlsx_with_the_header_on_row_3_and_merged_cells(tmp_path):
    run_import(xlsx_with_merged_cells(tmp_path / "名单.xlsx"))
    by_code = {i.credit_code: i for i in Institution.objects.all()}
    assert len(by_code) == 3
    assert by_code[credit_code(11)].kind == "licensed"  # the merged 白名单 cell
    assert by_code[credit_code(11)].scope == "学科类：数学、英语"
    assert by_code[credit_code(12)].kind == "blacklisted"
    assert by_code[credit_code(12)].phones == ["13912349999"]  # a number cell


def test_duplicate_credit_codes_and_an_empty_name_are_named_by_row_and_nothing_is_stored(
        tmp_path):
    Institution.objects.create(name="已有机构", kind="licensed", credit_code=credit_code(20))
    path = write_csv(tmp_path / "bad.csv", [
        ["名单标题"],
        HEADER,
        ["好机构", credit_code(21), "", "13912345678", "白名单", ""],
        ["第二个", credit_code(22), "", "", "白名单", ""],
        ["第三个", credit_code(22), "", "", "黑名单", ""],
        ["", credit_code(23), "", "", "白名单", ""],
        ["第五个", "12345", "", "", "白名单", ""],
        ["第六个", "", "", "电话待补", "白名单", ""],
        ["第七个", "", "", "", "灰名单", ""],
    ], "gbk")
    message = refused(path)
    assert "第 5 行" in message and "第 4 行" in message  # the duplicate names both rows
    assert "第 6 行" in message and "没有机构名称" in message
    assert "第 7 行" in message and "第 8 行" in message and "第 9 行" in message
    assert "第 3 行" not in message
    assert list(Institution.objects.values_list("name", flat=True)) == ["已有机构"]
    assert not AuditEvent.objects.filter(action="institutions.imported").exists()


def test_a_file_without_a_list_column_needs_the_list_option(tmp_path):
    path = write_csv(tmp_path / "黑名单.csv", [["机构名称", "联系电话"], ["某机构", "13912345678"]],
                     "utf-8")
    assert "--list" in refused(path)
    assert not Institution.objects.exists()
    run_import(path, "--list", "blacklisted")
    assert Institution.objects.get().kind == "blacklisted"


def test_a_reimport_updates_by_credit_code_and_adds_the_others(tmp_path):
    first = write_csv(tmp_path / "v1.csv", [
        HEADER,
        ["长沙市启航教育培训学校有限公司", credit_code(30), "旧地址", "13912345678", "白名单",
         "文化艺术类"],
        ["没有代码的机构", "", "", "", "白名单", ""],
    ], "utf-8")
    run_import(first)
    kept = Institution.objects.get(credit_code=credit_code(30))
    second = write_csv(tmp_path / "v2.csv", [
        HEADER,
        ["长沙市启航教育科技有限公司", credit_code(30), "新地址", "13800001111", "黑名单", ""],
        ["没有代码的机构", "", "补上的地址", "", "白名单", ""],
        ["新机构", credit_code(31), "", "", "白名单", ""],
    ], "utf-8")
    assert "1" in run_import(second)
    kept.refresh_from_db()
    assert (kept.name, kept.address, kept.kind, kept.phones) == (
        "长沙市启航教育科技有限公司", "新地址", "blacklisted", ["13800001111"])
    assert Institution.objects.count() == 3
    assert Institution.objects.get(name="没有代码的机构").address == "补上的地址"
    # The contact index follows the new phone.
    assert set(InstitutionContact.objects.filter(institution=kept).values_list(
        "value", flat=True)) == {"13800001111"}
    detail = AuditEvent.objects.filter(action="institutions.imported").order_by("pk").last().detail
    assert (detail["created"], detail["updated"]) == (1, 2)


@pytest.mark.parametrize("content, message", [
    (b"", "\u7a7a"),  # 空: the file is empty
    ("名称甲,名称乙\n1,2\n".encode(), "机构名称"),  # no header row
    (b"\xff\xfe\x00\x00garbage\x81", "UTF-8"),
])
def test_an_unreadable_file_is_a_clear_error(tmp_path, content, message):
    path = tmp_path / "x.csv"
    path.write_bytes(content)
    assert message in refused(path)
    assert not Institution.objects.exists()


def test_a_damaged_xlsx_and_an_xls_are_refused(tmp_path):
    (tmp_path / "x.xlsx").write_bytes(b"PK\x03\x04 not a workbook")
    assert "Excel" in refused(tmp_path / "x.xlsx")
    (tmp_path / "x.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    assert ".xlsx" in refused(tmp_path / "x.xls")
