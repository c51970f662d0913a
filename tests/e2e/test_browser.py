"""The review UI in headless Chromium (Debian's package, driven by Playwright; no browser is
downloaded): an officer logs in, opens the top ad, claims it (a second officer sees the claim),
records a decision with its reason, finds it in the audit log and exports the confirmed case;
a hostile ad's script never runs."""

from __future__ import annotations

import os
import shutil

import pytest
from django.contrib.auth import get_user_model
from django.db import connections

from review_ui.models import ReviewItem
from review_ui.roles import OFFICERS, grant
from tests.review_ui.conftest import make_item

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.once,  # the browser's side; the store's is tested on PostgreSQL elsewhere
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed"),
]
PASSWORD = "browser-test-password"


@pytest.fixture
def page(live_server):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
    # ordinary blocking calls made between browser steps.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        context = browser.new_context(locale="zh-CN")
        yield context.new_page()
        # ORM calls made while Playwright runs may have opened connections in its context:
        # close them here, or PostgreSQL cannot drop the test database at the end.
        connections.close_all()
        context.close()
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def officer(transactional_db):
    user = get_user_model().objects.create_user("browser_officer", password=PASSWORD)
    grant(user, OFFICERS)
    second = get_user_model().objects.create_user("second_officer", password=PASSWORD)
    grant(second, OFFICERS)
    return user


def log_in(page, live_server, username: str = "browser_officer") -> None:
    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def test_an_officer_claims_decides_sees_the_audit_row_and_exports_the_case(
    page, live_server, officer, tmp_path
):
    make_item(url="http://127.0.0.1/low", title="普通托管 低分", score=0.70)
    make_item(url="http://127.0.0.1/top", title="初三数学 周末一对一", score=0.98)
    log_in(page, live_server)
    rows = page.locator("table.queue tbody tr")
    assert rows.count() == 2
    assert "初三数学" in rows.first.inner_text()
    rows.first.locator("a").first.click()  # the title; an operator line links too
    assert page.locator("mark").count() >= 1
    page.click("form.claim button[type=submit]")
    assert "您已认领此条目" in page.locator("p.claim-state").inner_text()

    # A second officer, in another browser context, sees the claim and gets no decision form.
    other = page.context.browser.new_context(locale="zh-CN").new_page()
    log_in(other, live_server, "second_officer")
    assert "browser_officer 已认领" in other.locator("table.queue").inner_text()
    other.locator("table.queue tbody tr").first.locator("a").first.click()
    assert other.locator("form.decide").count() == 0
    other.context.close()

    page.select_option("select[name=decision]", "confirmed")
    page.select_option("select[name=reason]", "open_tutoring")
    page.fill("textarea[name=note]", "周末上门补课，证据充分")
    page.click("form.decide button[type=submit]")
    # Save and next: the next pending item of the queue opens.
    page.wait_for_url(f"{live_server.url}/ads/*/")
    assert "处理决定已记录" in page.locator("p.message").inner_text()
    assert "普通托管" in page.locator("h1.ad-title").inner_text()
    page.click("a.back-to-queue")
    assert page.locator("table.queue tbody tr").count() == 1
    item = ReviewItem.objects.get(ad__url="http://127.0.0.1/top")
    assert (item.status, item.reason) == ("confirmed", "open_tutoring")

    page.click("text=审计日志")
    audit = page.locator("table.audit").inner_text()
    assert "记录处理决定" in audit and "认领条目" in audit and "browser_officer" in audit

    page.goto(f"{live_server.url}/?status=confirmed")
    with page.expect_download() as download:
        page.click("p.exports a:text('XLSX')")
    path = tmp_path / "cases.xlsx"
    download.value.save_as(path)
    from openpyxl import load_workbook

    values = [c.value for row in load_workbook(path).active.iter_rows() for c in row]
    assert "http://127.0.0.1/top" in values and "周末上门补课，证据充分" in values


def test_a_hostile_ad_never_runs_script(page, live_server, officer):
    payload = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script>'
    result = make_item(title=f"恶意{payload}", text=f"正文{payload}", wechat_ids=[payload])
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    log_in(page, live_server)
    for path in ("/", f"/ads/{result.ad_id}/", "/audit/"):
        page.goto(f"{live_server.url}{path}")
        assert page.evaluate("window.__pwned") is None, path
    assert dialogs == []
    page.goto(f"{live_server.url}/ads/{result.ad_id}/")
    # Shown to the officer as the literal text it is.
    assert "<script>window.__pwned=1</script>" in page.locator("h1.ad-title").inner_text()


def test_supervisors_read_the_precision_and_recall_estimates(page, live_server, tmp_path):
    import numpy as np

    from review_ui.roles import SUPERVISORS
    from tests.review_ui.test_estimates import build_store, simulate

    user = get_user_model().objects.create_user("browser_supervisor", password=PASSWORD)
    grant(user, SUPERVISORS)
    grant(user, OFFICERS)
    build_store(simulate(np.random.default_rng(7), n=800, rate=0.1, decided=0.8), user,
                sources=3)
    log_in(page, live_server, "browser_supervisor")
    page.goto(f"{live_server.url}/dashboard/#estimates")
    table = page.locator("table.estimates")
    assert "召回率估计" in table.inner_text() and "95% 置信区间" in table.inner_text()
    assert table.locator("tbody.source").count() == 3
    assert table.locator("td.recall").count() >= 1
    page.set_viewport_size({"width": 1400, "height": 900})
    table.screenshot(path=str(tmp_path / "estimates.png"))
