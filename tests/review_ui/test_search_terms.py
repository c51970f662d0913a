"""Search terms: supervisors add them in the admin (audited), and the dashboard's terms page
shows which terms found confirmed violations, from what the crawl runs recorded."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crawler.search import DEFAULT_TERMS
from review_ui import runs
from review_ui.models import AuditEvent, CrawlRun, ReviewItem
from review_ui.search_terms import FOUND_BY_KEY, SearchTerm, active_terms, term_findings
from tests.review_ui.conftest import CONFIRM, make_item

pytestmark = pytest.mark.django_db
BASE = "http://127.0.0.1/post/"


@pytest.fixture(autouse=True)
def no_alerts(settings):
    settings.TUTORWATCH_ALERT_EMAILS = []
    settings.TUTORWATCH_ALERT_WEBHOOK = ""


def searched(found_by: dict) -> CrawlRun:
    stats = {"item_scraped_count": 3, "tutorwatch/pages/list": 3, "tutorwatch/pages/detail": 3,
             FOUND_BY_KEY: found_by}
    return runs.finish_run(runs.start_run({"name": "county", "kind": "html"}), stats,
                           "finished")


def test_a_supervisor_adds_a_term_in_the_admin_and_it_is_audited_and_searched(
    supervisor, supervisor_client
):
    response = supervisor_client.post(reverse("admin:review_ui_searchterm_add"),
                                      {"term": " 晚辅 ", "active": "on", "note": "县里新说法"})
    assert response.status_code == 302, response.content.decode()[:2000]
    term = SearchTerm.objects.get()
    assert (term.term, term.added_by) == ("晚辅", supervisor)
    event = AuditEvent.objects.get(action="search_term.added")
    assert event.actor == supervisor and event.detail["changes"]["term"]["new"] == "晚辅"
    assert active_terms() == ["晚辅"]

    supervisor_client.post(reverse("admin:review_ui_searchterm_change", args=[term.pk]),
                           {"term": "晚辅", "note": "县里新说法"})  # switched off
    assert active_terms() == []
    changed = AuditEvent.objects.get(action="search_term.changed")
    assert changed.detail["changes"]["active"] == {"old": True, "new": False}


def test_an_officer_can_neither_add_terms_nor_see_the_terms_page(officer_client):
    response = officer_client.post(reverse("admin:review_ui_searchterm_add"), {"term": "托管"})
    assert response.status_code in (302, 403) and not SearchTerm.objects.exists()
    assert officer_client.get(reverse("review_ui:search_terms")).status_code == 403


def test_the_terms_page_shows_which_terms_find_confirmed_violations(
    officer, supervisor_client
):
    confirmed = make_item(f"{BASE}1")
    make_item(f"{BASE}2")  # flagged, pending
    make_item(f"{BASE}3", score=0.1, label=0)  # stored, not flagged
    item = ReviewItem.objects.get(ad_id=confirmed.ad_id)
    item.decide(officer, CONFIRM["decision"], reason=CONFIRM["reason"])
    SearchTerm.objects.create(term="晚辅")
    searched({f"{BASE}1": ["托管", "自习室"], f"{BASE}2": ["托管"], f"{BASE}9": ["晚辅"]})
    searched({f"{BASE}1": ["托管"], f"{BASE}3": ["自习室", "<b>新词</b>"]})

    rows = {row.term: row for row in term_findings()}
    assert set(DEFAULT_TERMS) | {"晚辅", "<b>新词</b>"} == set(rows)
    tuoguan, zixi, wanfu = rows["托管"], rows["自习室"], rows["晚辅"]
    assert (tuoguan.results, tuoguan.stored, tuoguan.flagged, tuoguan.confirmed) == (2, 2, 2, 1)
    assert (zixi.results, zixi.stored, zixi.flagged, zixi.confirmed) == (2, 2, 1, 1)
    assert (wanfu.results, wanfu.stored, wanfu.origin) == (1, 0, "added")
    assert rows["<b>新词</b>"].origin == "source" and tuoguan.origin == "default"
    assert [r.term for r in term_findings()][:2] == ["托管", "自习室"]  # most confirmed first

    page = supervisor_client.get(reverse("review_ui:search_terms"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "&lt;b&gt;新词&lt;/b&gt;" in html and "<b>新词</b>" not in html
    assert html.index("托管") < html.index("晚辅")


def test_the_menu_links_the_terms_page_for_supervisors_only(supervisor_client, officer_client):
    link = f'href="{reverse("review_ui:search_terms")}"'
    assert link in supervisor_client.get(reverse("review_ui:dashboard")).content.decode()
    assert link not in officer_client.get(reverse("review_ui:queue")).content.decode()
