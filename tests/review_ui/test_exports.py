import csv
import io
import json
from datetime import datetime

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone, translation
from openpyxl import load_workbook
from rest_framework.test import APIClient

from review_ui.exports import (
    AUDIT_FIELDS,
    CASE_FIELDS,
    CASE_HEADERS,
    FLAT_FIELDS,
    write_csv,
    write_jsonl,
    write_xlsx,
)
from review_ui.models import AuditEvent, ReviewItem
from tests.review_ui.conftest import CONFIRM, DISMISS, make_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def ads(db):
    make_item(url="http://127.0.0.1/a", title="=HYPERLINK(\"http://evil\")",
              text="+1 正文\x01控制字符")
    make_item(url="http://127.0.0.1/b", title="无害的标题", label=0, score=0.2)


def test_jsonl_has_the_architecture_fields(ads):
    out = io.BytesIO()
    assert write_jsonl(out, None) == 2
    rows = [json.loads(line) for line in out.getvalue().decode().splitlines()]
    for field in ["url", "source", "title", "text", "posted_at", "contacts", "score", "flagged",
                  "status"]:
        assert field in rows[0]
    assert rows[0]["contacts"] == {"phones": ["13912345678"], "wechat_ids": ["tutor_abc"]}
    assert rows[0]["posted_at"] == "2026-10-30T09:00:00+08:00"
    assert (rows[0]["flagged"], rows[0]["status"]) == (True, "pending")
    assert (rows[1]["flagged"], rows[1]["status"]) == (False, "not_queued")


def test_csv_neutralises_formulas(ads):
    out = io.BytesIO()
    write_csv(out)
    text = out.getvalue().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == FLAT_FIELDS
    assert rows[1][FLAT_FIELDS.index("title")].startswith("'=")
    assert rows[1][FLAT_FIELDS.index("text")].startswith("'+")


def test_xlsx_neutralises_formulas_and_drops_control_characters(ads):
    out = io.BytesIO()
    write_xlsx(out)
    sheet = load_workbook(io.BytesIO(out.getvalue())).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0] == FLAT_FIELDS
    title = values[1][FLAT_FIELDS.index("title")]
    assert title.startswith("'=")
    assert sheet.cell(row=2, column=FLAT_FIELDS.index("title") + 1).data_type == "s"
    assert "\x01" not in values[1][FLAT_FIELDS.index("text")]


# --- Case and audit exports through the UI ----------------------------------------------------


@pytest.fixture
def decided(officer_client):
    make_item(url="http://127.0.0.1/c1", title="=cmd|'/c calc'!A1 初三数学",
              text="周六上午9:00-11:00 初三数学 每节课200元 地址：天心区芙蓉路8号",
              region="长沙-天心区")
    make_item(url="http://127.0.0.1/c2", title="雨花区托管", region="长沙-雨花区")
    make_item(url="http://127.0.0.1/c3", title="成人英语", region="长沙-雨花区")
    make_item(url="http://127.0.0.1/c4", title="还没处理", region="长沙-雨花区")
    items = {i.ad.url[-2:]: i for i in ReviewItem.objects.select_related("ad")}
    officer_client.post(reverse("review_ui:decide", args=[items["c1"].pk]),
                        {**CONFIRM, "note": "+SUM(1,2) 证据充分"})
    officer_client.post(reverse("review_ui:decide", args=[items["c2"].pk]),
                        {"decision": "escalated", "reason": "tuoguan"})
    officer_client.post(reverse("review_ui:decide", args=[items["c3"].pk]), DISMISS)
    return items


def csv_rows(response) -> list[list[str]]:
    body = (b"".join(response.streaming_content) if response.streaming  # the case export
            else response.content)
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def zh_headers() -> list[str]:
    with translation.override("zh-hans"):
        return [str(CASE_HEADERS[field]) for field in CASE_FIELDS]


def col(name: str) -> int:
    return CASE_FIELDS.index(name)


def test_the_case_export_has_confirmed_and_escalated_items_with_their_evidence(
    officer_client, decided
):
    response = officer_client.get(reverse("review_ui:export_cases", args=["csv"]))
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    rows = csv_rows(response)
    assert rows[0] == zh_headers()
    by_url = {row[CASE_FIELDS.index("url")]: dict(zip(CASE_FIELDS, row, strict=True))
              for row in rows[1:]}
    assert set(by_url) == {"http://127.0.0.1/c1", "http://127.0.0.1/c2"}
    first = by_url["http://127.0.0.1/c1"]
    assert first["status"] == "已确认" and first["reason"] == "公开补习"
    assert first["decided_by"] == "officer1" and first["phones"] == "13912345678"
    assert first["title"].startswith("'=") and first["note"].startswith("'+")
    assert "初三" in first["grades"] and "数学" in first["subjects"]
    assert "200元" in first["prices"] and "上午9:00-11:00" in first["class_times"]
    assert "天心区芙蓉路8号" in first["addresses"]
    assert len(first["raw_sha256"]) == 64 and first["evidence"] == "一对一辅导; 提分"
    assert by_url["http://127.0.0.1/c2"]["case"].startswith("TW")


def test_the_queue_filters_apply_to_the_case_export(officer_client, decided):
    rows = csv_rows(officer_client.get(reverse("review_ui:export_cases", args=["csv"]),
                                       {"region": "长沙-雨花区"}))
    assert [row[CASE_FIELDS.index("url")] for row in rows[1:]] == ["http://127.0.0.1/c2"]
    rows = csv_rows(officer_client.get(reverse("review_ui:export_cases", args=["csv"]),
                                       {"status": "escalated"}))
    assert [row[CASE_FIELDS.index("url")] for row in rows[1:]] == ["http://127.0.0.1/c2"]


def test_the_case_export_as_xlsx_holds_no_formula(officer_client, decided):
    response = officer_client.get(reverse("review_ui:export_cases", args=["xlsx"]))
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.content)).active
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert [c.value for c in cells[:len(CASE_FIELDS)]] == zh_headers()
    assert all(cell.data_type != "f" for cell in cells)
    assert any(str(cell.value).startswith("'=cmd") for cell in cells)


def test_exports_are_in_the_audit_log(officer_client, decided):
    officer_client.get(reverse("review_ui:export_cases", args=["xlsx"]), {"region": "长沙"})
    event = AuditEvent.objects.get(action="cases.exported")
    assert event.detail["rows"] == 2 and event.detail["filters"] == {"region": "长沙"}


def test_the_audit_log_exports_as_csv_with_filters(supervisor_client, decided):
    response = supervisor_client.get(reverse("review_ui:audit_export"), {"action": "item.decided"})
    rows = csv_rows(response)
    assert rows[0] == AUDIT_FIELDS
    assert len(rows) == 4 and {row[3] for row in rows[1:]} == {"item.decided"}
    assert all(row[2] == "officer1" for row in rows[1:])
    # The note that looks like a formula is neutralised inside the detail column too.
    assert not any(cell.lstrip().startswith(("=", "+", "-", "@")) for row in rows for cell in row)


# --- Control characters in front of a formula ---------------------------------------------------

HIDDEN_FORMULA = "\x01=HYPERLINK(\"http://x\",\"y\")"


def assert_no_formula(sheet) -> None:
    for row in sheet.iter_rows():
        for cell in row:
            assert cell.data_type != "f", cell.coordinate
            assert not str(cell.value or "").lstrip().startswith("="), cell.coordinate


def test_a_control_character_does_not_smuggle_a_formula_into_the_xlsx_export(db):
    make_item(url="http://127.0.0.1/hidden", title=HIDDEN_FORMULA, text=f"\x02\x03{HIDDEN_FORMULA}")
    out = io.BytesIO()
    write_xlsx(out)
    sheet = load_workbook(io.BytesIO(out.getvalue())).active
    assert_no_formula(sheet)
    title = sheet.cell(row=2, column=FLAT_FIELDS.index("title") + 1)
    assert title.value == "'=HYPERLINK(\"http://x\",\"y\")" and title.data_type == "s"


def test_a_control_character_does_not_smuggle_a_formula_into_the_case_export(
    officer_client, db
):
    make_item(url="http://127.0.0.1/hidden", title=HIDDEN_FORMULA)
    item = ReviewItem.objects.get()
    officer_client.post(reverse("review_ui:decide", args=[item.pk]),
                        {**CONFIRM, "note": HIDDEN_FORMULA})
    response = officer_client.get(reverse("review_ui:export_cases", args=["xlsx"]))
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert_no_formula(sheet)
    texts = [cell for row in sheet.iter_rows(min_row=2) for cell in row
             if isinstance(cell.value, str) and "HYPERLINK" in cell.value]
    assert len(texts) == 2 and all(cell.data_type == "s" for cell in texts)
    rows = csv_rows(officer_client.get(reverse("review_ui:export_cases", args=["csv"])))
    assert rows[1][CASE_FIELDS.index("title")] == "'" + HIDDEN_FORMULA
    assert rows[1][CASE_FIELDS.index("note")] == "'" + HIDDEN_FORMULA



# --- The case export is for people; the machine interfaces keep their codes (issue 20) --------


def test_the_case_csv_speaks_chinese_to_the_minute_and_to_two_decimals(officer_client, db):
    make_item(url="http://127.0.0.1/p1", title="研学营招生", score=0.999926)
    item = ReviewItem.objects.get()
    officer_client.post(reverse("review_ui:decide", args=[item.pk]),
                        {"decision": "escalated", "reason": "camp"})
    rows = csv_rows(officer_client.get(reverse("review_ui:export_cases", args=["csv"])))
    assert rows[0][:4] == ["案件编号", "审核条目", "状态", "理由 / 违规形式"]
    row = rows[1]
    assert row[col("status")] == "已升级" and row[col("reason")] == "研学 / 营地"
    assert row[col("category")] == "公开补习" and row[col("score")] == "1.00"
    assert row[col("posted_at")] == "2026-10-30 09:00"
    assert row[col("fetched_at")] == "2026-11-01 10:00"
    decided = ReviewItem.objects.get().decided_at
    assert row[col("decided_at")] == timezone.localtime(decided).strftime("%Y-%m-%d %H:%M")
    assert not any(code in cell for cell in row for code in ("escalated", "camp", "open_tutoring"))


def test_the_case_xlsx_has_a_chinese_sheet_widths_a_frozen_header_and_typed_cells(
    officer_client, decided
):
    response = officer_client.get(reverse("review_ui:export_cases", args=["xlsx"]))
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["案件"]
    sheet = book["案件"]
    assert sheet.freeze_panes == "A2"
    assert [c.value for c in sheet[1]] == zh_headers()
    assert sheet.column_dimensions["A"].width == 16  # 案件编号
    text_column = sheet.cell(row=1, column=col("text") + 1).column_letter
    assert sheet.column_dimensions[text_column].width == 60
    rows = {r[col("url")].value: r for r in sheet.iter_rows(min_row=2)}
    first = rows["http://127.0.0.1/c1"]
    assert (first[col("status")].value, first[col("reason")].value) == ("已确认", "公开补习")
    assert rows["http://127.0.0.1/c2"][col("status")].value == "已升级"
    assert rows["http://127.0.0.1/c2"][col("reason")].value == "托管"
    posted = first[col("posted_at")]
    assert posted.value == datetime(2026, 10, 30, 9, 0)
    assert posted.number_format == "yyyy-mm-dd hh:mm"
    score = first[col("score")]
    assert score.value == 0.93 and score.number_format == "0.00"
    assert first[col("decided_at")].value.second == 0


def test_the_case_export_follows_the_chosen_language(officer_client, decided):
    officer_client.cookies["django_language"] = "en"
    rows = csv_rows(officer_client.get(reverse("review_ui:export_cases", args=["csv"])))
    assert rows[0][:3] == ["Case number", "Review item", "Status"]
    assert {row[col("status")] for row in rows[1:]} == {"confirmed", "escalated"}


def test_the_machine_interfaces_keep_their_field_names_and_codes(officer, decided, tmp_path):
    with translation.override("zh-hans"):
        call_command("export", "--format", "csv", "-o", str(tmp_path / "ads.csv"))
    rows = list(csv.reader(io.StringIO((tmp_path / "ads.csv").read_text("utf-8-sig"))))
    assert rows[0] == FLAT_FIELDS
    by_url = {row[FLAT_FIELDS.index("url")]: row for row in rows[1:]}
    c2 = by_url["http://127.0.0.1/c2"]
    assert c2[FLAT_FIELDS.index("status")] == "escalated"
    assert c2[FLAT_FIELDS.index("category")] == "open_tutoring"
    assert c2[FLAT_FIELDS.index("score")] == "0.93"
    assert c2[FLAT_FIELDS.index("posted_at")] == "2026-10-30T09:00:00+08:00"
    api = APIClient()
    api.force_login(officer)
    body = api.get(reverse("api:item", args=[decided["c2"].pk]),
                   HTTP_ACCEPT_LANGUAGE="zh-hans").json()
    assert (body["status"], body["reason"], body["category"]) == (
        "escalated", "tuoguan", "open_tutoring")
