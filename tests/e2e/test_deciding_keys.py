"""Deciding with the keyboard alone in headless Chromium (issue 20 point 1): from the queue, an
officer opens the top ad, claims it (c), confirms with the model's suggested violation form
(1, Enter), lands on the next item of their filter, where dismissing (2) offers dismissal
reasons only; a refused decision comes back on the form with the note kept."""

from __future__ import annotations

import pytest

from review_ui.models import ReviewItem
from review_ui.reasons import DISMISSAL_CODES
from tests.e2e.test_browser import CHROMIUM, log_in, officer, page  # noqa: F401 (fixtures)
from tests.review_ui.conftest import make_item

pytestmark = [
    pytest.mark.once,  # the browser's side; the store's is tested on PostgreSQL elsewhere
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed"),
]


def _offered(browser_page) -> set[str]:
    """The reason codes the page offers now."""
    return set(browser_page.eval_on_selector_all(
        "select[name=reason] option",
        "os => os.filter(o => !o.hidden && o.value).map(o => o.value)"))


def test_an_officer_decides_two_items_with_the_keyboard(page, live_server, officer):  # noqa: F811
    make_item(url="http://127.0.0.1/top", title="初三数学 周末一对一", score=0.98)
    make_item(url="http://127.0.0.1/other", title="钢琴 陪练", score=0.95, source="other_site")
    make_item(url="http://127.0.0.1/low", title="托管 作业辅导", score=0.80)
    log_in(page, live_server)
    page.goto(f"{live_server.url}/?source=test_site")
    page.locator("table.queue tbody tr").first.locator("a").first.click()  # the title
    page.wait_for_url(f"{live_server.url}/ads/*/?queue=*")

    page.keyboard.press("c")
    page.wait_for_selector("p.claim-state")
    assert "您已认领此条目" in page.locator("p.claim-state").inner_text()
    assert page.locator("select[name=decision]").input_value() == ""
    page.keyboard.press("1")
    assert page.locator("select[name=reason]").input_value() == "open_tutoring"
    assert page.evaluate("document.activeElement.type") == "submit"
    page.keyboard.press("Enter")
    page.wait_for_selector("p.message")
    assert "处理决定已记录：已确认（公开补习）" in page.locator("p.message").inner_text()
    # The next item of the filter (the piano ad is of another source).
    assert "托管 作业辅导" in page.locator("h1.ad-title").inner_text()
    top = ReviewItem.objects.get(ad__url="http://127.0.0.1/top")
    assert (top.status, top.reason) == ("confirmed", "open_tutoring")

    page.keyboard.press("2")
    assert page.locator("select[name=reason]").input_value() == ""
    assert _offered(page) == DISMISSAL_CODES
    assert page.evaluate("document.activeElement.name") == "reason"
    page.keyboard.press("1")  # on the focused select: does not change the decision
    page.locator("body").click()
    page.keyboard.press("1")
    assert page.locator("select[name=reason]").input_value() == "open_tutoring"
    assert "adult" not in _offered(page)

    # Without the script's help (a violation form forced onto a dismissal), the server refuses
    # and shows the error on the form, the note kept.
    page.keyboard.press("n")
    page.keyboard.type("家长反映，疑似违规")
    page.evaluate("""() => { const s = document.querySelector('select[name=decision]');
                             s.value = 'dismissed'; }""")
    page.click("form.decide button[type=submit]")
    page.wait_for_selector("p.errornote")
    assert "排除" in page.locator("form.decide ul.errorlist").inner_text()
    assert page.locator("textarea[name=note]").input_value() == "家长反映，疑似违规"
    assert ReviewItem.objects.get(ad__url="http://127.0.0.1/low").status == "pending"
