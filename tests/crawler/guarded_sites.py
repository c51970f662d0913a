"""Sites for the network guard's tests: an ad site on 127.0.0.1, and on other loopback addresses
(127.0.0.2, 127.0.0.3: Linux answers the whole of 127.0.0.0/8) servers standing for a host
inside the bureau's network and for another site. Every server records the paths it was asked
for; each serves, at any path, a page the ad site's selectors would read as an ad.
"""

from __future__ import annotations

import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler
from typing import Any

from crawler.sandbox.server import SandboxServer

# Six different flagged ads (copies of one ad would share one review item, and only the ads in
# review are re-checked).
AD_TEXTS = [
    "初中数学一对一辅导，周末上门，提分快，在职老师亲授。电话13800000100",
    "高三物理冲刺班，名师押题，小班教学，周六上课。微信 wuli_chongci",
    "小学英语自然拼读，外教授课，寒假集训，报名从速。电话13900000222",
    "中考化学培优补差，重点中学老师周日授课，名额有限。电话13700000333",
    "高二语文作文提分，阅读理解专项训练，线上直播课。加v yuwen_tifen",
    "初一生物地理会考辅导，晚托班老师讲题答疑。电话13600000555",
]
ADS = len(AD_TEXTS)

SOURCE = """\
name: guarded
kind: html
start_urls: ["{base}/list"]
allowed_domains: [{domains}]
list:
  links: "a.ad::attr(href)"
detail:
  title: "h1::text"
  body: "div.body"
"""


def ad_page(title: str, body: str, extra: str = "") -> bytes:
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title></head>'
            f'<body><h1>{title}</h1><div class="body">{body}</div>{extra}</body></html>').encode()


class RecordingServer:
    """One HTTP server on ``host``; ``hits`` counts the paths asked for. ``pages`` maps a path
    to (status, headers, body); any other path is an ad page saying where it was served."""

    def __init__(self, host: str) -> None:
        self.hits: Counter[str] = Counter()
        self.pages: dict[str, tuple[int, dict[str, str], bytes]] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:  # noqa: N802
                server.hits[self.path] += 1
                status, headers, body = server.pages.get(self.path) or (
                    200, {}, ad_page(f"内部页面 {host}", f"服务器 {host} 上的页面 {self.path}"))
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = SandboxServer((host, 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def redirect(self, path: str, location: str) -> None:
        self.pages[path] = (302, {"Location": location}, b"")

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def ad_site(links: list[str]) -> RecordingServer:
    """The ad site on 127.0.0.1: ``/list`` links to ``/ad/0`` … and to ``links``."""
    site = RecordingServer("127.0.0.1")
    rows = "".join(f'<a class="ad" href="/ad/{n}">{n}</a>' for n in range(ADS))
    rows += "".join(f'<a class="ad" href="{link}">+</a>' for link in links)
    site.pages["/list"] = (200, {}, f"<html><body>{rows}</body></html>".encode())
    site.pages["/robots.txt"] = (200, {}, b"User-agent: *\nAllow: /\n")
    for n in range(ADS):
        title = AD_TEXTS[n].split("，", 1)[0]
        site.pages[f"/ad/{n}"] = (200, {}, ad_page(title, AD_TEXTS[n]))
    return site
