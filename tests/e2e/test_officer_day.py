"""An officer's full day in headless Chromium (issue 20, "Done when"): from the login page,
an officer decides 20 items with the keyboard alone (the keystrokes to the tenth decision are
counted and printed), batches the items of one phone into a case, opens the case page and adds
a note; a supervisor reverses one decision with a note, which the officer reads on their work
page; the supervisor exports the cases and the XLSX says everything in Chinese.

With ``TUTORWATCH_SHOTS_DIR`` set, screenshots of the queue and the ad page are saved there."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from review_ui.models import Case, ReviewItem
from review_ui.roles import SUPERVISORS, grant
from tests.e2e.test_browser import CHROMIUM, PASSWORD, officer, page  # noqa: F401 (fixtures)
from tests.review_ui.conftest import make_item

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed"),
]
BATCH_PHONE = "13866668888"
DECIDED = 20


class CountingKeyboard:
    """The page's keyboard, counting every key pressed (a typed character is one)."""

    def __init__(self, keyboard) -> None:
        self.keyboard = keyboard
        self.count = 0

    def press(self, key: str) -> None:
        self.count += 1
        self.keyboard.press(key)

    def type(self, text: str) -> None:
        self.count += len(text)
        self.keyboard.type(text)


def _shot(browser_page, name: str) -> None:
    folder = os.environ.get("TUTORWATCH_SHOTS_DIR")
    if folder:
        browser_page.screenshot(path=str(Path(folder) / f"deciding-after-{name}.png"),
                                full_page=True)


def test_an_officers_day(page, live_server, officer, tmp_path):  # noqa: F811
    for i in range(DECIDED):
        make_item(url=f"http://127.0.0.1/day/{i}", title=f"初中数学 周末班 {i:02d}",
                  score=0.99 - i * 0.004, phones=[f"139000000{i:02d}"], wechat_ids=[])
    for i in range(3):
        make_item(url=f"http://127.0.0.1/batch/{i}", title=f"同一机构 高中物理 {i}", score=0.62,
                  phones=[BATCH_PHONE], wechat_ids=[], source="other_site")
    supervisor = get_user_model().objects.create_user("day_supervisor", password=PASSWORD)
    grant(supervisor, SUPERVISORS)
    page.set_viewport_size({"width": 1366, "height": 900})

    # From the login page to the tenth decision, with the keyboard alone.
    keys = CountingKeyboard(page.keyboard)
    page.goto(f"{live_server.url}/accounts/login/")
    # The user name field takes the focus (autofocus), which Chromium may do a moment after
    # the page's load event on a busy machine: typing before would go nowhere.
    page.wait_for_function("document.activeElement && document.activeElement.name === 'username'")
    keys.type("browser_officer")
    keys.press("Tab")
    keys.type(PASSWORD)
    keys.press("Enter")
    page.wait_for_url(f"{live_server.url}/")
    _shot(page, "queue")
    keys.press("j")  # the first item of the queue
    page.wait_for_url(f"{live_server.url}/ads/*/")
    _shot(page, "ad")
    credentials = len("browser_officer") + 1 + len(PASSWORD) + 1
    for decided in range(1, DECIDED + 1):
        title = page.locator("h1.ad-title").inner_text()
        keys.press("1")  # confirm; the model's violation form is suggested
        keys.press("Enter")
        page.wait_for_function(
            "t => document.querySelector('h1.ad-title').innerText !== t", arg=title)
        if decided == 10:
            tenth = keys.count
    print(f"\nkeystrokes from the login page to the tenth decision: {tenth} "
          f"({credentials} typing the user name and password and logging in, "
          f"{tenth - credentials} to open the queue's first item and decide ten)")
    assert tenth == credentials + 1 + 2 * 10
    assert ReviewItem.objects.filter(status="confirmed", decided_by=officer).count() == DECIDED
    assert set(ReviewItem.objects.filter(ad__url__contains="/day/")
               .values_list("reason", flat=True)) == {"open_tutoring"}

    # Save and next has reached the items sharing a phone: decide them together into a case.
    assert "同一机构" in page.locator("h1.ad-title").inner_text()
    _shot(page, "ad-shared-phone")
    page.click(f"ul.batch-links a[href*='{BATCH_PHONE}']")
    assert page.locator("input[name=items]:checked").count() == 3
    _shot(page, "batch")
    page.select_option("select[name=decision]", "escalated")
    page.select_option("select[name=reason]", "open_tutoring")
    page.fill("textarea[name=note]", "同一电话，三处发帖")
    page.click("form.batch button[type=submit]")
    page.wait_for_url(f"{live_server.url}/cases/*/")
    case = Case.objects.get()
    assert case.number in page.locator("h1").inner_text()
    assert page.locator("table.case-items tbody tr").count() == 3
    assert "browser_officer" in page.locator("p.case-officers").inner_text()
    page.fill("form.case-note-form textarea[name=text]", "已电话联系，机构承认开班")
    page.click("form.case-note-form button[type=submit]")
    assert "已电话联系，机构承认开班" in page.locator("section.case-notes").inner_text()
    assert "批量处理条目" in page.locator("table.case-audit").inner_text()
    _shot(page, "case")

    # A supervisor reverses one of the officer's decisions, with a note.
    boss = page.context.browser.new_context(locale="zh-CN",
                                            viewport={"width": 1366, "height": 900})
    other = boss.new_page()
    other.goto(f"{live_server.url}/accounts/login/")
    other.fill("input[name=username]", "day_supervisor")
    other.fill("input[name=password]", PASSWORD)
    other.click("form.login button[type=submit]")
    reversed_item = ReviewItem.objects.get(ad__url="http://127.0.0.1/day/3")
    other.goto(f"{live_server.url}/ads/{reversed_item.ad_id}/")
    other.click("details.reverse summary")
    other.select_option("form.reverse select[name=decision]", "dismissed")
    other.select_option("form.reverse select[name=reason]", "non_subject")
    other.fill("form.reverse textarea[name=note]", "是编程兴趣班，不属于学科类")
    other.click("form.reverse button[type=submit]")
    other.wait_for_selector("p.message")
    assert ReviewItem.objects.get(pk=reversed_item.pk).status == "dismissed"

    # The officer reads it on their work page.
    page.click("nav >> text=我的处理记录")
    reversals = page.locator("section.reversals").inner_text()
    assert "是编程兴趣班，不属于学科类" in reversals and "day_supervisor" in reversals
    _shot(page, "work")

    # The supervisor exports the cases; the workbook is in Chinese.
    other.goto(f"{live_server.url}/?status=escalated")
    with other.expect_download() as download:
        other.click("p.exports a:text('XLSX')")
    path = tmp_path / "cases.xlsx"
    download.value.save_as(path)
    boss.close()
    from openpyxl import load_workbook

    sheet = load_workbook(path).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert sheet.title == "案件"
    assert {"案件编号", "状态", "理由 / 违规形式", "模型评分"} <= set(rows[0])
    assert len(rows) == 1 + 3
    values = {value for row in rows[1:] for value in row}
    assert case.number in values and "已升级" in values and "公开补习" in values
    assert "escalated" not in values and "open_tutoring" not in values
