"""Words an officer reads (issue 20 point 4): the run page's figures grouped and named with local
times, role changes made on the command line credited to who ran the command, the dashboard's
count columns headed for what they count, error pages naming fields by their labels."""

from __future__ import annotations

import io

import lxml.html
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from review_ui import runs
from review_ui.model_registry import os_user
from review_ui.models import AuditEvent, ReviewItem
from review_ui.run_figures import figures
from tests.review_ui.conftest import make_item
from tests.review_ui.every_page import STATS

pytestmark = pytest.mark.django_db


def test_run_figures_are_grouped_named_and_local():
    with_labels = {group.title: {(f.label, f.code): f.value for f in group.figures}
                   for group in figures(STATS)}
    assert list(with_labels) == ["运行", "请求与响应", "网页", "广告", "日志消息", "其他数字"]
    assert with_labels["运行"][("开始时间", "")] == "2026-11-01 10:00:00"  # Asia/Shanghai
    assert with_labels["运行"][("用时（秒）", "")] == "190.2"
    assert with_labels["请求与响应"][("HTTP 响应，状态码", "404")] == "1"
    assert with_labels["请求与响应"][("接收（kB）", "")] == "33.5"
    assert with_labels["广告"][("舍弃的广告，原因", "empty")] == "1"
    assert with_labels["其他数字"] == {("", "some_extension/new_figure"): "4"}


def test_the_run_page_shows_no_raw_stats_and_no_utc_offsets(supervisor_client, settings):
    settings.TUTORWATCH_ALERT_EMAILS = []
    settings.TUTORWATCH_ALERT_WEBHOOK = ""
    run = runs.finish_run(runs.start_run({"name": "county_forum", "kind": "html"}), STATS,
                          "finished")
    page = supervisor_client.get(reverse("review_ui:run", args=[run.pk])).content.decode()
    assert "+00:00" not in page and "T02:00:00" not in page
    assert "downloader/response_status_count" not in page and "item_scraped_count" not in page
    captions = lxml.html.fromstring(page).xpath("//table[@class='stats']/caption/text()")
    assert captions == ["运行", "请求与响应", "网页", "广告", "日志消息", "其他数字"]


def test_a_role_given_on_the_command_line_is_credited_to_who_ran_it(supervisor_client):
    get_user_model().objects.create_user("newcomer")
    call_command("role", "newcomer", "officer", stdout=io.StringIO())
    event = AuditEvent.objects.get(action="user.role_granted", detail__user="newcomer")
    assert event.actor is None and event.detail["by"] == os_user()
    page = supervisor_client.get(reverse("review_ui:audit"), {"action": "user.role_granted"})
    row = lxml.html.fromstring(page.content.decode()).xpath("//table[@class='audit']/tbody/tr")
    cells = [cell.text_content() for cell in row[0].xpath("td")]
    assert cells[1] == f"命令行（{os_user()}）" and "角色：审核员" in cells[4]
    assert "抓取程序" not in page.content.decode()


def test_the_dashboard_heads_its_counts_for_what_they_count(supervisor_client, officer):
    for n, decision in enumerate(["confirmed", "escalated", "dismissed"]):
        item = ReviewItem.objects.get(ad_id=make_item(url=f"http://127.0.0.1/d/{n}").ad_id)
        item.claim(officer)
        item.decide(officer, decision, "", reason="adult" if decision == "dismissed"
                    else "open_tutoring", new_case=decision != "dismissed")
    page = lxml.html.fromstring(supervisor_client.get(reverse("review_ui:dashboard")).content)
    table = page.xpath("//table[@class='breakdown']")[0]
    headings = [th.text_content() for th in table.xpath("thead/tr/th")]
    assert headings[1:3] == ["标记数", "确认或升级"] and "是否标记" not in headings
    assert [td.text_content() for td in table.xpath("tbody/tr[1]/td")][:3] == ["3", "2", "1"]


def test_an_error_page_names_fields_in_chinese(officer_client):
    response = officer_client.get(reverse("review_ui:work"), {"date_from": "昨天"})
    assert response.status_code == 400
    errors = lxml.html.fromstring(response.content).xpath("//ul[@class='errors']/li")
    assert errors and all("date_from" not in li.text_content() for li in errors)
    assert errors[0].text_content().startswith("从：") or "：" in errors[0].text_content()
