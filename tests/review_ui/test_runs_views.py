"""The crawl runs pages: supervisors only, failures marked, filters checked."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from review_ui import runs
from review_ui.models import CrawlRun

pytestmark = pytest.mark.django_db
CONFIG = {"name": "county_forum", "kind": "html"}


@pytest.fixture
def two_runs(settings):
    settings.TUTORWATCH_ALERT_EMAILS = []
    settings.TUTORWATCH_ALERT_WEBHOOK = ""
    ok = runs.finish_run(runs.start_run(CONFIG), {
        "item_scraped_count": 9, "tutorwatch/pages/list": 1, "tutorwatch/pages/detail": 9,
        "response_received_count": 10, "custom/<script>": 1,
    }, "finished")
    failed = runs.finish_run(runs.start_run(CONFIG), {"tutorwatch/pages/list": 1,
                                                      "tutorwatch/pages/list_without_links": 1},
                             "finished")
    return ok, failed


def test_a_supervisor_sees_every_run_with_failures_marked(supervisor_client, two_runs):
    ok, failed = two_runs
    page = supervisor_client.get(reverse("review_ui:runs")).content.decode()
    assert page.count('class="run-finished"') == 1 and page.count('class="run-failed"') == 1
    assert "网站是否改变了页面布局" in page  # the reason, in Chinese by default
    assert reverse("review_ui:run", args=[failed.pk]) in page


def test_the_run_page_shows_numbers_problems_and_escaped_stats(supervisor_client, two_runs):
    ok, failed = two_runs
    page = supervisor_client.get(reverse("review_ui:run", args=[ok.pk])).content.decode()
    assert "custom/&lt;script&gt;" in page and "<script>" not in page
    page = supervisor_client.get(reverse("review_ui:run", args=[failed.pk])).content.decode()
    assert "status-failed" in page and "无法解析" in page


def test_runs_can_be_filtered_and_bad_filters_are_a_400(supervisor_client, two_runs):
    url = reverse("review_ui:runs")
    page = supervisor_client.get(url, {"status": "failed"}).content.decode()
    assert 'class="run-failed"' in page and 'class="run-finished"' not in page
    response = supervisor_client.get(url, {"status": "bogus"})
    assert response.status_code == 400 and response.content.decode() == "未知状态。"
    response = supervisor_client.get(url, {"source": "nope"})
    assert response.status_code == 400 and response.content.decode() == "未知来源。"
    assert supervisor_client.get(url, {"source": "county_forum"}).status_code == 200


def test_officers_and_outsiders_may_not_see_runs(officer_client, outsider_client, two_runs):
    ok, _ = two_runs
    for client in (officer_client, outsider_client):
        assert client.get(reverse("review_ui:runs")).status_code == 403
        assert client.get(reverse("review_ui:run", args=[ok.pk])).status_code == 403


def test_anonymous_visitors_are_sent_to_login(two_runs):
    response = Client().get(reverse("review_ui:runs"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_runs_pages_answer_get_only(supervisor_client, two_runs):
    assert supervisor_client.post(reverse("review_ui:runs")).status_code == 405


def test_an_unknown_run_is_a_404(supervisor_client):
    assert supervisor_client.get(reverse("review_ui:run", args=[999])).status_code == 404


def test_the_menu_links_to_runs_for_supervisors_only(supervisor_client, officer_client):
    link = reverse("review_ui:runs")
    assert link in supervisor_client.get(reverse("review_ui:queue")).content.decode()
    assert link not in officer_client.get(reverse("review_ui:queue")).content.decode()


def test_a_running_run_is_listed_as_running(supervisor_client):
    runs.start_run(CONFIG)
    page = supervisor_client.get(reverse("review_ui:runs")).content.decode()
    assert 'class="run-running"' in page
    assert CrawlRun.objects.get().status == "running"


def test_the_run_page_of_a_site_that_is_down_shows_failed_pages_urls_and_selector_counts(
    supervisor_client, settings
):
    settings.TUTORWATCH_ALERT_EMAILS = []
    settings.TUTORWATCH_ALERT_WEBHOOK = ""
    urls = [f"http://county.example/list/{i}.html?<b>" for i in range(7)]
    run = runs.finish_run(runs.start_run(CONFIG), {
        "tutorwatch/pages/list": 1, "tutorwatch/pages/detail": 2, "item_scraped_count": 2,
        "tutorwatch/failed/http_500": 7, "downloader/response_status_count/500": 21,
        "tutorwatch/failed_urls": {"http_500": urls},
        "tutorwatch/selectors/detail.posted_at/pages": 2,
        "tutorwatch/selectors/detail.posted_at/matched": 0,
    }, "finished")
    assert [h["check"] for h in run.health] == ["site_down"]
    page = supervisor_client.get(reverse("review_ui:run", args=[run.pk])).content.decode()
    assert "网站宕机或正在阻止我们访问：10 个页面中有 7 个请求失败（http_500 7）" in page
    assert "<dd>7 (http_500 7)" in page  # each URL once, not the 21 responses
    # Five per reason.
    assert page.count("<li><code>http_500</code>: http://county.example/list/") == 5
    assert "?&lt;b&gt;" in page and "?<b>" not in page
    assert "detail.posted_at 在 2 个页面中匹配到 0 个" in page
