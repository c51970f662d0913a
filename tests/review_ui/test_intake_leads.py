"""Leads from complaints (issue 17 point 4): entered in the UI or imported from the hotline's
CSV/XLSX export, contacts normalised as ads' are, the ads, leads and cases each lead shares a
phone, WeChat id or institution name with, opening and joining cases (audited), and every bad
input: a CSV in GBK, in UTF-8 with BOM, with a missing column, bad rows, a lead naming no
contact."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openpyxl import Workbook

from review_ui.intake.leads import institution_key, read_phones, read_wechat_ids
from review_ui.models import AuditEvent, Case, Lead, LeadContact, ReviewItem
from tests.review_ui.conftest import CONFIRM, make_item

pytestmark = pytest.mark.django_db

HEADER = "工单编号,来电时间,诉求内容,涉及机构,联系电话,微信号,地址,来源\n"
ROWS = ("GD20261130001,2026-11-30 14:22:05,反映某小区有人开办小学数学辅导班,启明星教育,"
        "139-1234-5678,,雨花区香樟路,12345\n"
        "GD20261130002,2026/11/30 15:01,举报周末补课，联系人微信 tutor_xyz,,无,,天心区,12345热线\n"
        "GD20261201003,2026年12月01日 09时10分,来信反映晚托班违规补课,阳光托管,,,,来信\n")


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def run_import(path: Path, *extra: str) -> str:
    out = StringIO()
    call_command("leads", "import", str(path), *extra, stdout=out, stderr=out)
    return out.getvalue()


def refused(path: Path) -> str:
    err = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("leads", "import", str(path), stdout=StringIO(), stderr=err)
    return f"{err.getvalue()}\n{caught.value}"


# --- Normalisation -------------------------------------------------------------------------------

@pytest.mark.parametrize(("given", "wanted"), [
    ("139 1234 5678", ["13912345678"]),
    ("+86-139-1234-5678", ["13912345678"]),
    ("１３９１２３４５６７８", ["13912345678"]),
    ("0731-8456 7890、13800001111", ["13800001111", "073184567890"]),
    ("无", []),
])
def test_phones_are_read_in_any_spelling(given, wanted):
    assert read_phones(given) == wanted


def test_wechat_ids_are_read_alone_or_with_hints():
    assert read_wechat_ids("tutor_abc, 微信：math_teacher1；13912345678") == [
        "tutor_abc", "math_teacher1", "13912345678"]
    with pytest.raises(ValueError):
        read_wechat_ids("张老师")


def test_institution_names_are_compared_folded():
    assert institution_key(" 启明星 教育（雨花）") == institution_key("启明星教育(雨花)")


# --- Import --------------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_the_hotline_csv_is_imported_in_utf8_with_or_without_bom_and_in_gbk(tmp_path, encoding):
    out = run_import(write(tmp_path / "export.csv", HEADER + ROWS, encoding))
    assert "已从 export.csv 导入 3 条线索" in out
    leads = {lead.ticket: lead for lead in Lead.objects.all()}
    first = leads["GD20261130001"]
    assert first.text == "反映某小区有人开办小学数学辅导班" and first.institution == "启明星教育"
    assert first.phones == ["13912345678"] and first.place == "雨花区香樟路"
    assert first.channel == "hotline" and first.entered_by is None
    assert first.imported_from == "export.csv:2"
    assert timezone.localtime(first.received_at).strftime("%Y-%m-%d %H:%M:%S") == \
        "2026-11-30 14:22:05"
    second = leads["GD20261130002"]
    assert second.phones == [] and second.wechat_ids == ["tutor_xyz"]  # from the complaint
    third = leads["GD20261201003"]
    assert third.channel == "letter" and third.phones == [] and third.wechat_ids == []
    assert timezone.localtime(third.received_at).strftime("%H:%M") == "09:10"
    assert set(LeadContact.objects.values_list("kind", "value")) == {
        ("phone", "13912345678"), ("wechat", "tutor_xyz")}
    event = AuditEvent.objects.get(action="leads.imported")
    assert event.detail["created"] == 3 and event.detail["file"] == "export.csv"


def test_english_headers_and_an_xlsx_export_are_read(tmp_path, officer):
    book = Workbook()
    sheet = book.active
    sheet.append(["ticket", "received_at", "text", "institution", "phones"])
    sheet.append([20261130001, timezone.datetime(2026, 11, 30, 14, 0), "举报补课", "育才培优",
                  13912345678])
    book.save(tmp_path / "export.xlsx")
    out = run_import(tmp_path / "export.xlsx", "--by", officer.username)
    assert "导入 1 条线索" in out
    lead = Lead.objects.get()
    assert lead.ticket == "20261130001" and lead.phones == ["13912345678"]
    assert lead.entered_by == officer


def test_reimporting_by_ticket_number_does_not_duplicate(tmp_path):
    run_import(write(tmp_path / "a.csv", HEADER + ROWS.splitlines(keepends=True)[0]))
    out = run_import(write(tmp_path / "b.csv", HEADER + ROWS))
    assert "导入 2 条线索；1 个工单此前已保存" in out
    assert Lead.objects.count() == 3 and LeadContact.objects.count() == 2


def test_a_missing_column_is_named_and_nothing_is_imported(tmp_path):
    message = refused(write(tmp_path / "x.csv", "工单编号,诉求内容\nGD1,补课\n"))
    assert "缺少列：来电时间" in message and "未导入任何内容" in message
    assert Lead.objects.count() == 0 and not AuditEvent.objects.filter(action="leads.imported")


def test_bad_rows_are_reported_by_row_number_and_nothing_is_imported(tmp_path):
    text = HEADER + ROWS + (
        ",2026-12-01 10:00,没有工单号的行,,,,,\n"
        "GD9,昨天下午,时间写错,,,,,\n"
        "GD10,2026-12-01 11:00,电话写错,,张老师,,,\n"
        "GD20261130001,2026-12-01 12:00,重复的工单,,,,,\n"
        "GD11,2026-12-01 13:00,,,,,,\n")
    message = refused(write(tmp_path / "bad.csv", text, "gbk"))
    assert "第 5 行：缺少工单编号" in message
    assert "第 6 行：无法识别时间“昨天下午”" in message
    assert "第 7 行：无法从“张老师”中识别电话号码" in message
    assert "第 8 行：工单 GD20261130001 在第 2 行也出现" in message
    assert "第 9 行：缺少诉求内容" in message
    assert "有 5 处问题" in message
    assert Lead.objects.count() == 0 and LeadContact.objects.count() == 0


def test_a_file_that_is_not_text_or_not_csv_or_xlsx_is_refused(tmp_path):
    assert "既不是 UTF-8 也不是 GBK" in refused(
        _bytes(tmp_path / "bin.csv", b"\xff\xfe\x00\x81\x00\xfe\xff"))
    assert "只能导入 .csv 和 .xlsx" in refused(_bytes(tmp_path / "old.xls", b"\xd0\xcf\x11\xe0"))
    assert "无法作为 Excel 工作簿读取" in refused(_bytes(tmp_path / "zip.xlsx", b"PK\x03\x04xx"))
    assert "文件为空" in refused(_bytes(tmp_path / "empty.csv", b""))
    assert Lead.objects.count() == 0


def _bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.slow
def test_the_command_exits_1_naming_the_rows_in_chinese(tmp_path, tutorwatch):
    tutorwatch("migrate", "-v", "0")
    bad = write(tmp_path / "bad.csv", HEADER + "GD1,明天,补课,,,,,\n", "gbk")
    done = tutorwatch("leads", "import", str(bad), check=False)
    assert done.returncode == 1
    assert "第 2 行：无法识别时间“明天”" in done.stderr.decode()
    good = write(tmp_path / "good.csv", HEADER + ROWS, "utf-8-sig")
    assert "导入 3 条线索" in tutorwatch("leads", "import", str(good)).stdout.decode()


# --- The UI --------------------------------------------------------------------------------------

LEAD = {"channel": "hotline", "ticket": "GD-UI-1", "received_at": "2026-11-30T10:00",
        "text": "家长反映启明星教育周末开设数学补习班", "institution": "启明星教育",
        "place": "雨花区", "phones": "139 1234 5678", "wechat_ids": ""}


def test_an_officer_enters_a_lead_and_sees_the_ads_it_shares_a_phone_or_name_with(
        officer, officer_client):
    by_phone = make_item(url="http://127.0.0.1/post/1")  # carries 13912345678
    by_name = make_item(url="http://127.0.0.1/post/2", text="启明星教育暑期班招生，名额有限",
                        phones=[], wechat_ids=[])
    unrelated = make_item(url="http://127.0.0.1/post/3", text="钢琴考级辅导，成人班",
                          phones=["13800000000"], wechat_ids=[])
    response = officer_client.post(reverse("intake:lead_new"), LEAD)
    lead = Lead.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("intake:lead", args=[lead.pk])
    assert lead.entered_by == officer and lead.phones == ["13912345678"]
    assert AuditEvent.objects.get(action="lead.created").detail["lead"] == lead.pk
    page = officer_client.get(reverse("intake:lead", args=[lead.pk])).content.decode()
    for ad in (by_phone, by_name):
        assert reverse("review_ui:ad", args=[ad.ad_id]) in page
    assert reverse("review_ui:ad", args=[unrelated.ad_id]) not in page
    assert "13912345678" in page and "启明星教育" in page and "12345 热线" in page


def test_a_lead_naming_no_contact_is_accepted_and_matched_by_name(officer_client):
    by_name = make_item(url="http://127.0.0.1/post/2", text="启明星教育暑期班招生",
                        phones=[], wechat_ids=[])
    response = officer_client.post(reverse("intake:lead_new"), {
        **LEAD, "channel": "visit", "ticket": "", "phones": "", "text": "来访反映有机构违规补课"})
    assert response.status_code == 302
    lead = Lead.objects.get()
    assert lead.phones == [] and lead.wechat_ids == []
    page = Client()
    page.force_login(lead.entered_by)
    html = page.get(reverse("intake:lead", args=[lead.pk])).content.decode()
    assert "只按机构名称匹配" in html and reverse("review_ui:ad", args=[by_name.ad_id]) in html


def test_a_hostile_complaint_is_shown_escaped(officer_client):
    officer_client.post(reverse("intake:lead_new"), {
        **LEAD, "text": "<script>alert(1)</script>", "institution": "<b>x</b>教育机构"})
    lead = Lead.objects.get()
    html = officer_client.get(reverse("intake:lead", args=[lead.pk])).content.decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;" in html
    assert "<b>x</b>" not in html


def test_a_short_name_matches_nothing(officer_client):
    make_item(url="http://127.0.0.1/post/2", text="数学培训招生", phones=[], wechat_ids=[])
    officer_client.post(reverse("intake:lead_new"), {**LEAD, "institution": "培训",
                                                     "phones": "", "text": "反映补课"})
    lead = Lead.objects.get()
    html = officer_client.get(reverse("intake:lead", args=[lead.pk])).content.decode()
    assert "少于 3 个字的名称不作比较" in html


@pytest.mark.parametrize(("change", "message"), [
    ({"ticket": ""}, "热线线索需要填写工单编号"),
    ({"phones": "张老师"}, "无法识别出手机或座机号码"),
    ({"wechat_ids": "加我"}, "无法识别出微信号"),
    ({"received_at": "2099-01-01T00:00"}, "受理时间在未来"),
    ({"text": ""}, "必填项"),
    ({"channel": "fax"}, "fax"),
])
def test_a_bad_lead_is_refused_in_chinese_with_nothing_stored(officer_client, change, message):
    response = officer_client.post(reverse("intake:lead_new"), {**LEAD, **change})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Lead.objects.count() == 0 and not AuditEvent.objects.filter(action="lead.created")


def test_a_ticket_number_is_stored_once(officer_client):
    officer_client.post(reverse("intake:lead_new"), LEAD)
    again = officer_client.post(reverse("intake:lead_new"), LEAD)
    assert again.status_code == 400 and "该工单编号的线索已保存过" in again.content.decode()
    assert Lead.objects.count() == 1


def test_a_lead_opens_a_case_and_another_joins_it_audited(officer, officer_client):
    officer_client.post(reverse("intake:lead_new"), LEAD)
    officer_client.post(reverse("intake:lead_new"), {**LEAD, "ticket": "GD-UI-2"})
    first, second = Lead.objects.order_by("pk")
    opened = officer_client.post(reverse("intake:lead_case", args=[first.pk]),
                                 {"action": "open", "note": "热线线索"})
    assert opened.status_code == 302
    first.refresh_from_db()
    case = first.case
    assert case is not None and case.opened_by == officer and case.note == "热线线索"
    event = AuditEvent.objects.get(action="lead.case_opened")
    assert event.detail == {"lead": first.pk, "ticket": "GD-UI-1", "case": case.number}
    # The second lead shares the phone: its page offers the first lead's case.
    page = officer_client.get(reverse("intake:lead", args=[second.pk])).content.decode()
    assert case.number in page and reverse("intake:lead", args=[first.pk]) in page
    joined = officer_client.post(reverse("intake:lead_case", args=[second.pk]),
                                 {"action": "join", "case": case.number})
    assert joined.status_code == 302
    second.refresh_from_db()
    assert second.case == case
    assert AuditEvent.objects.get(action="lead.case_joined").detail["case"] == case.number
    again = officer_client.post(reverse("intake:lead_case", args=[second.pk]),
                                {"action": "join", "case": case.number})
    assert again.status_code == 409


def test_a_lead_joins_the_case_of_an_escalated_ad(officer, officer_client):
    ad = make_item(url="http://127.0.0.1/post/1")
    item = ReviewItem.objects.get(ad_id=ad.ad_id)
    item.decide(officer, "escalated", "立案", reason=CONFIRM["reason"], new_case=True)
    officer_client.post(reverse("intake:lead_new"), LEAD)
    lead = Lead.objects.get()
    page = officer_client.get(reverse("intake:lead", args=[lead.pk])).content.decode()
    assert item.case.number in page
    officer_client.post(reverse("intake:lead_case", args=[lead.pk]),
                        {"action": "join", "case": item.case.number})
    lead.refresh_from_db()
    assert lead.case == item.case and list(item.case.leads.all()) == [lead]


@pytest.mark.parametrize(("data", "message"), [
    ({"action": "join", "case": "TW2026-99999"}, "没有这个编号的案件"),
    ({"action": "burn"}, "未知操作"),
])
def test_a_bad_case_action_changes_nothing(officer_client, data, message):
    officer_client.post(reverse("intake:lead_new"), LEAD)
    lead = Lead.objects.get()
    response = officer_client.post(reverse("intake:lead_case", args=[lead.pk]), data)
    assert response.status_code == 400 and message in response.content.decode()
    assert Case.objects.count() == 0
    assert not AuditEvent.objects.filter(action__startswith="lead.case")


def test_lead_pages_need_a_role_and_csrf(officer, outsider_client, officer_client):
    officer_client.post(reverse("intake:lead_new"), LEAD)
    lead = Lead.objects.get()
    for url in (reverse("intake:leads"), reverse("intake:lead", args=[lead.pk]),
                reverse("intake:lead_new")):
        assert outsider_client.get(url).status_code == 403
        assert Client().get(url).status_code == 302
    assert outsider_client.post(reverse("intake:lead_case", args=[lead.pk]),
                                {"action": "open"}).status_code == 403
    csrf = Client(enforce_csrf_checks=True)
    csrf.force_login(officer)
    assert csrf.post(reverse("intake:lead_case", args=[lead.pk]),
                     {"action": "open"}).status_code == 403
    assert officer_client.get(reverse("intake:lead_case", args=[lead.pk])).status_code == 405
    assert Case.objects.count() == 0


def test_the_lead_list_shows_the_leads(officer_client, tmp_path):
    run_import(write(tmp_path / "export.csv", HEADER + ROWS))
    page = officer_client.get(reverse("intake:leads")).content.decode()
    assert "GD20261130001" in page and "启明星教育" in page and "来信" in page


def test_an_officer_uploads_the_hotline_export_in_the_ui(officer, officer_client):
    export = SimpleUploadedFile("12345导出.csv", (HEADER + ROWS).encode("gbk"), "text/csv")
    response = officer_client.post(reverse("intake:lead_import"), {"file": export})
    assert response.status_code == 302
    assert Lead.objects.count() == 3
    assert set(Lead.objects.values_list("entered_by", flat=True)) == {officer.pk}
    assert Lead.objects.get(ticket="GD20261130001").imported_from == "12345导出.csv:2"
    page = officer_client.get(reverse("intake:leads")).content.decode()
    assert "已从 12345导出.csv 导入 3 条线索" in page


def test_a_bad_upload_lists_its_rows_and_imports_nothing(officer_client, outsider_client):
    bad = SimpleUploadedFile("bad.csv", (HEADER + "GD1,明天,补课,,,,,\n,2026-12-01,x,,,,,\n")
                             .encode("utf-8-sig"), "text/csv")
    response = officer_client.post(reverse("intake:lead_import"), {"file": bad})
    assert response.status_code == 400
    html = response.content.decode()
    assert "未导入任何内容" in html and "第 2 行：无法识别时间“明天”" in html
    assert "第 3 行：缺少工单编号" in html
    assert officer_client.post(reverse("intake:lead_import")).status_code == 400
    other = SimpleUploadedFile("a.xls", b"\xd0\xcf\x11\xe0", "application/vnd.ms-excel")
    assert "只能导入 .csv 和 .xlsx" in officer_client.post(
        reverse("intake:lead_import"), {"file": other}).content.decode()
    good = SimpleUploadedFile("a.csv", (HEADER + ROWS).encode(), "text/csv")
    assert outsider_client.post(reverse("intake:lead_import"), {"file": good}).status_code == 403
    assert Lead.objects.count() == 0
