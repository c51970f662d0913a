"""A site for the screenshot tests: flagged-looking ad pages on a loopback address, and hostile
pages a capture must survive. Every server counts the paths asked for (``hits``) and who asked
(``browser_hits``: requests from headless Chromium).

- ``/ad/{n}``: an ad page (one of ``tests.crawler.guarded_sites.AD_TEXTS``);
- ``/slow``: answers after ``slow_seconds``;
- ``/loop``: a script that never ends (the page's main thread hangs);
- ``/tall``: a page 60,000 pixels high;
- ``/dialogs``: alert, confirm, prompt, window.open, a download and a print dialog;
- ``/list``: links to every ``/ad/{n}`` (for a crawl of it);
- ``pages``: any other path set by the test: (status, headers, body).

``browser_delay`` delays the answers to the browser only (its user agent says HeadlessChrome),
so a crawl of the site is fast while its captures are slow.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler
from typing import Any

from crawler.sandbox.server import SandboxServer
from tests.crawler.guarded_sites import AD_TEXTS, ad_page

SOURCE = """\
name: capture_site
kind: html
start_urls: ["{base}/list"]
list:
  links: "a.ad::attr(href)"
detail:
  title: "h1::text"
  body: "div.body"
"""

HOSTILE = {
    "/loop": ad_page("死循环", "高中数学辅导", "<script>for(;;){}</script>"),
    "/tall": ad_page("很长的页面", "初中英语辅导",
                     '<div style="height:60000px;background:linear-gradient(red,blue)"></div>'),
    "/dialogs": ad_page("弹窗", "小学奥数辅导", (
        "<script>alert('x'); confirm('y'); prompt('z'); window.open('/popup');"
        "var a=document.createElement('a'); a.href='/file.bin'; a.download='f.bin'; a.click();"
        "window.print();</script>")),
}


class CaptureSite:
    def __init__(self, host: str = "127.0.0.1", ads: int = len(AD_TEXTS)) -> None:
        self.hits: Counter[str] = Counter()
        self.browser_hits: Counter[str] = Counter()
        self.pages: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.slow_seconds = 5.0
        self.browser_delay = 0.0
        self.ads = ads
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:  # noqa: N802
                browser = "HeadlessChrome" in (self.headers.get("User-Agent") or "")
                site.hits[self.path] += 1
                if browser:
                    site.browser_hits[self.path] += 1
                    if site.browser_delay:
                        time.sleep(site.browser_delay)
                status, headers, body = site.answer(self.path)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", headers.pop("Content-Type",
                                                                 "text/html; charset=utf-8"))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = SandboxServer((host, 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, path: str) -> tuple[int, dict[str, str], bytes]:
        if path in self.pages:
            status, headers, body = self.pages[path]
            return status, dict(headers), body
        if path == "/robots.txt":
            return 200, {"Content-Type": "text/plain"}, b"User-agent: *\nAllow: /\n"
        if path == "/list":
            links = "".join(f'<a class="ad" href="/ad/{n}">{n}</a>' for n in range(self.ads))
            return 200, {}, f"<html><body>{links}</body></html>".encode()
        if path == "/slow":
            time.sleep(self.slow_seconds)
            return 200, {}, ad_page("慢页面", "高三物理辅导")
        if path in HOSTILE:
            return 200, {}, HOSTILE[path]
        if path.startswith("/ad/") and path[4:].isdigit() and int(path[4:]) < self.ads:
            n = int(path[4:])
            text = AD_TEXTS[n % len(AD_TEXTS)]
            if n >= len(AD_TEXTS):
                text = f"{text} 第{n}期，联系电话1380000{n:04d}"
            return 200, {}, ad_page(text.split("，", 1)[0], text)
        return 404, {}, b"not here"

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
