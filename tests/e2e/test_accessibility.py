"""Accessibility and the snapshot's silence, in headless Chromium (issue 20 points 5 and 6).

- axe-core (shipped in the axe-playwright-python package, never downloaded at run time) finds
  no serious or critical violation on any page of review_ui/urls.py, for each role
  (tests/review_ui/every_page.py names the pages and writes the sample store);
- opening an ad's stored page (text and page views) sends no request anywhere but the review
  UI, although the stored page refers to images, scripts, styles, frames, fonts and a refresh
  on an "advertiser's" server (a second server on 127.0.0.1 that counts what it is asked).
"""

from __future__ import annotations

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from review_ui.models import Ad
from tests.e2e.test_browser import CHROMIUM
from tests.review_ui.conftest import PASSWORD, make_item
from tests.review_ui.every_page import ROLES, page_paths, sample_store

pytestmark = [
    pytest.mark.once,  # the browser's side; the store's is tested on PostgreSQL elsewhere
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed"),
]
SERIOUS = {"serious", "critical"}


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield chromium
        chromium.close()


def _logged_in(browser, live_server, username: str):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_load_state()
    return context, page


def _serious(axe, page) -> list[str]:
    results = axe.run(page)
    return [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
            for v in results.response["violations"] if v["impact"] in SERIOUS]


def test_axe_finds_no_serious_violation_on_any_page_for_any_role(
        browser, live_server, transactional_db):
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    paths = page_paths(sample_store())
    found: dict[str, list[str]] = {}
    checked = 0
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    if violations := _serious(axe, page):
        found["visitor /accounts/login/"] = violations
    context.close()
    for role, (username, _group) in ROLES.items():
        context, page = _logged_in(browser, live_server, username)
        for path in paths:
            response = page.goto(f"{live_server.url}{path}")
            if response is None or not response.headers.get("content-type", "").startswith(
                    "text/html"):
                continue
            checked += 1
            violations = _serious(axe, page)
            if violations:
                found[f"{role} {path} ({response.status})"] = violations
        context.close()
    assert checked >= 3 * 20
    assert not found, "\n".join(f"{where}: {v}" for where, v in found.items())


class _Advertiser(BaseHTTPRequestHandler):
    asked: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        type(self).asked.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"seen")

    def log_message(self, *args) -> None:
        pass


def test_the_stored_page_loads_nothing_from_the_advertisers_server(
        browser, live_server, transactional_db):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Advertiser)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    there = f"http://127.0.0.1:{server.server_address[1]}"
    _Advertiser.asked = []
    raw = f"""<!DOCTYPE html><html><head>
<meta http-equiv="refresh" content="0; url={there}/refresh">
<link rel="stylesheet" href="{there}/style.css"><link rel="icon" href="{there}/icon.png">
<link rel="preload" href="{there}/font.woff2" as="font"><base href="{there}/">
<style>@import url({there}/import.css); body {{ background: url({there}/bg.png); }}
@font-face {{ font-family: x; src: url({there}/font.woff); }}</style>
<script src="{there}/script.js"></script><script>fetch("{there}/fetch")</script>
</head><body onload="new Image().src='{there}/onload'">
<h1>小升初数学冲刺班</h1><img src="{there}/pixel.gif" srcset="{there}/pixel2x.gif 2x" alt="">
<img src="relative.png"><picture><source srcset="{there}/source.webp"></picture>
<iframe src="{there}/frame"></iframe><object data="{there}/object"></object>
<video poster="{there}/poster.jpg" src="{there}/video.mp4"></video>
<svg><image href="{there}/svg.png"/></svg><a href="{there}/link" ping="{there}/ping">报名</a>
<div style="background-image: url('{there}/inline.png')">电话 13912345678</div>
<form action="{there}/form"><input type="image" src="{there}/button.png"></form>
</body></html>""".encode()
    ad = make_item(url=f"{there}/post/1", title="小升初数学冲刺班", raw_body=raw)
    officer, _group = ROLES["officer"]
    from django.contrib.auth import get_user_model

    from review_ui.roles import OFFICERS, grant
    grant(get_user_model().objects.create_user(officer, password=PASSWORD), OFFICERS)
    context, page = _logged_in(browser, live_server, officer)
    elsewhere: list[str] = []
    page.on("request", lambda request: None if request.url.startswith(
        (live_server.url, "data:", "about:")) else elsewhere.append(request.url))
    for view in ("", "?as=html", "?as=source"):
        page.goto(f"{live_server.url}/ads/{ad.ad_id}/snapshot/{view}")
        page.wait_for_timeout(500)
    page.goto(f"{live_server.url}/ads/{ad.ad_id}/snapshot/?as=html")
    frame = page.frame_locator("iframe.snapshot-frame")
    assert frame.locator("h1").inner_text() == "小升初数学冲刺班"
    frame.locator("a").click()  # a link keeps its address as a tooltip, and goes nowhere
    page.wait_for_timeout(1000)
    banner = page.locator(".snapshot-banner").inner_text()
    assert f"{there}/post/1" in banner
    assert Ad.objects.get(pk=ad.ad_id).raw_sha256 in banner
    try:
        assert elsewhere == [] and _Advertiser.asked == []
        page.goto(f"{there}/control")  # the watch works: a visit of ours is seen
        assert "/control" in _Advertiser.asked
    finally:
        context.close()
        server.shutdown()
        server.server_close()
