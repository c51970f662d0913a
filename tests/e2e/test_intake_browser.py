"""Intake in headless Chromium (Debian's package, driven by Playwright; no browser is
downloaded): an officer submits an ad seen in a WeChat group with a picture, sees it on the ad
page, escalates it into a new case, enters a hotline lead naming the same phone, finds the ad
and its case on the lead page and adds the lead to that case, then downloads the case's evidence
sheet from the case page (issue 17's browser test)."""

from __future__ import annotations

import subprocess

import pytest

from review_ui.models import Ad, AuditEvent, Lead, ReviewItem, SubmissionImage
from tests.e2e.test_browser import CHROMIUM, log_in, officer, page  # noqa: F401 (fixtures)
from tests.review_ui import intake_files as files
from tests.review_ui.test_evidence import POPPLER

pytestmark = [
    pytest.mark.once,  # the browser's side; the store's is tested on PostgreSQL elsewhere
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed"),
]
TEXT = "暑期初二数学物理一对一，小区内上课，提分快，联系电话 139-8765-4321，微信 summer_tutor8"


def test_an_officer_submits_an_ad_with_a_picture_escalates_it_and_links_a_lead(
        page, live_server, officer, tmp_path):  # noqa: F811
    picture = tmp_path / "group-screenshot.jpg"
    picture.write_bytes(files.jpeg_with_metadata((120, 80)))
    log_in(page, live_server)

    page.click("header nav a:text('提交广告')")
    page.fill("textarea[name=text]", TEXT)
    page.select_option("select[name=platform]", "wechat_group")
    page.fill("input[name=seen_where]", "某小区业主群")
    page.fill("input[name=seen_at]", "2026-11-29T20:15")
    page.set_input_files("input[name=images]", str(picture))
    page.click("form.submission button[type=submit]")
    page.wait_for_url(f"{live_server.url}/ads/*/")
    assert "广告已保存并加入审核队列" in page.locator("p.message").inner_text()
    panel = page.locator("section.submission-panel")
    assert "微信群" in panel.inner_text() and "某小区业主群" in panel.inner_text()
    image = panel.locator("img.submission-image")
    image.wait_for()
    # The picture was decoded by the browser: stored upright (EXIF orientation applied) and
    # without its metadata.
    assert page.evaluate("img => [img.complete, img.naturalWidth, img.naturalHeight]",
                         image.element_handle()) == [True, 80, 120]
    stored = SubmissionImage.objects.get()
    assert files.SECRET not in bytes(stored.image)
    assert stored.sha256 in panel.inner_text()

    page.select_option("select[name=decision]", "escalated")
    page.select_option("select[name=reason]", "open_tutoring")
    page.fill("textarea[name=note]", "群内招生广告，立案调查")
    page.click("form.decide button[type=submit]")
    item = ReviewItem.objects.select_related("case").get(ad=Ad.objects.get())
    assert item.status == "escalated" and item.case is not None

    page.goto(f"{live_server.url}/intake/leads/")
    page.click("text=录入线索")
    page.select_option("select[name=channel]", "hotline")
    page.fill("input[name=ticket]", "GD202611300099")
    page.fill("input[name=received_at]", "2026-11-30T09:00")
    page.fill("textarea[name=text]", "市民反映小区内有人暑期开设数学补习班")
    page.fill("input[name=phones]", "+86 139 8765 4321")
    page.click("form.lead button[type=submit]")
    page.wait_for_url(f"{live_server.url}/intake/leads/*/")
    assert "13987654321" in page.locator("dd.phones").inner_text()
    ads = page.locator("table.lead-ads").inner_text()
    assert "13987654321" in ads and "已升级" in ads
    assert item.case.number in page.locator("ul.lead-cases").inner_text()
    page.fill("form.lead-join input[name=case]", item.case.number)
    page.click("form.lead-join button[type=submit]")
    assert f"线索已并入案件 {item.case.number}" in page.locator("p.message").inner_text()
    assert Lead.objects.get().case_id == item.case.pk
    assert AuditEvent.objects.filter(action="lead.case_joined").count() == 1

    # The case page links the evidence sheet; the browser downloads it as the officer would.
    page.goto(f"{live_server.url}/cases/{item.case.pk}/")
    with page.expect_download() as download:
        page.click("a.evidence-link")
    sheet = tmp_path / "evidence.pdf"
    download.value.save_as(sheet)
    assert sheet.read_bytes().startswith(b"%PDF-")
    assert AuditEvent.objects.filter(action="case.evidence_exported").count() == 1
    if POPPLER:
        text = subprocess.run(["pdftotext", str(sheet), "-"], capture_output=True,
                              check=True).stdout.decode()
        assert item.case.number in text and "13987654321" in text
