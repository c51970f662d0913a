"""The audit page in words (issue 20 point 4): details as labelled values, the action filter a
select of the actions' names; the stored details and the CSV export keep their codes."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import translation

from review_ui.audit_detail import describe
from review_ui.models import AuditEvent, ReviewItem
from tests.review_ui.conftest import CONFIRM

pytestmark = pytest.mark.django_db

AUDIT = reverse("review_ui:audit")


def detail_cells(page: str) -> list[str]:
    return re.findall(r'<td class="detail">([^<]*)</td>', page)


def test_a_decision_reads_in_words_on_the_audit_page(officer_client, supervisor_client, flagged):
    item = ReviewItem.objects.get()
    officer_client.post(reverse("review_ui:decide", args=[item.pk]),
                        {"decision": "escalated", "reason": "camp", "note": ""})
    number = ReviewItem.objects.get().case.number
    page = supervisor_client.get(AUDIT, {"action": "item.decided"}).content.decode()
    (cell,) = detail_cells(page)
    decision = ReviewItem.objects.get().decisions.get().pk
    assert cell == f"决定：已升级 · 理由：研学 / 营地 · 案件：{number} · 决定编号：{decision}"
    assert "备注" not in cell  # an empty note says nothing
    assert "decision=" not in page and "escalated" not in cell and "camp" not in cell
    # The row itself keeps the codes, and so does the export.
    assert AuditEvent.objects.get(action="item.decided").detail["reason"] == "camp"
    export = supervisor_client.get(reverse("review_ui:audit_export"), {"action": "item.decided"})
    assert '""reason"": ""camp""' in export.content.decode("utf-8-sig")


def test_a_note_and_a_reversal_read_in_words_and_stay_escaped(
    officer_client, supervisor_client, flagged
):
    item = ReviewItem.objects.get()
    officer_client.post(reverse("review_ui:decide", args=[item.pk]),
                        {**CONFIRM, "note": "<b>周末</b>补课"})
    latest = item.decisions.get().pk
    supervisor_client.post(reverse("review_ui:reverse", args=[item.pk]), {
        "decision": "dismissed", "reason": "adult", "note": "成人课程", "reverses": latest})
    page = supervisor_client.get(AUDIT).content.decode()
    assert "备注：&lt;b&gt;周末&lt;/b&gt;补课" in page and "<b>周末" not in page
    reversed_cell = next(c for c in detail_cells(page) if c.startswith("原状态"))
    assert reversed_cell.startswith("原状态：已确认 · 原理由：公开补习 · 新状态：已排除 · "
                                    "理由：成人培训 · 备注：成人课程")


def test_the_action_filter_is_a_select_of_names(supervisor_client, officer_client, flagged):
    officer_client.post(reverse("review_ui:decide", args=[ReviewItem.objects.get().pk]), CONFIRM)
    page = supervisor_client.get(AUDIT).content.decode()
    select = re.search(r'<select name="action"[^>]*>(.*?)</select>', page, re.S).group(1)
    options = dict(re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select))
    assert options[""] == "任何操作" and options["item.decided"] == "记录处理决定"
    assert all(re.search(r"[\u4e00-\u9fff]", label) for label in options.values())
    filtered = supervisor_client.get(AUDIT, {"action": "item.decided"}).content.decode()
    actions = re.findall(r'<td class="action" title="([^"]+)"', filtered)
    assert actions == ["item.decided"]
    assert '<option value="item.decided" selected>' in filtered


def test_an_action_not_in_the_list_is_refused_in_chinese(supervisor_client):
    response = supervisor_client.get(AUDIT, {"action": "item.nonsense"})
    assert response.status_code == 400
    assert "item.nonsense" in response.content.decode() and "选择" in response.content.decode()


def test_details_in_english_and_their_edge_cases():
    with translation.override("en"):
        assert describe({"decision": "escalated", "reason": "camp", "note": ""}) == (
            "decision: escalated · reason: camp / study trip (研学)")
    with translation.override("zh-hans"):
        filters = {"action": "item.decided", "region": "长沙", "status": "escalated"}
        assert describe({"format": "xlsx", "rows": 2, "filters": filters}) == (
            "格式：xlsx · 行数：2 · 筛选条件：状态：已升级，地区：长沙，操作：记录处理决定")
        assert describe({"forced": True, "sample": False}) == "抽样：否 · forced：是"
        assert describe({"phones": ["139", "138"]}) == "phones：139、138"
        assert describe({}) == "" and describe(None) == ""
