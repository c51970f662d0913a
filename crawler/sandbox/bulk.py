"""A large sandbox site of any size, for the distributed-crawl tests and the crawl benchmark.

``pages`` pages in all: list pages ``/list/{n}.html`` with ``per_list`` links each to detail
pages ``/ad/{id}.html``, chained by a next link; the texts are the sandbox posts, cycled and
numbered so that every ad is different. The site counts every hit by path (``hits``), and can be
changed while it runs, as real sites are: ``removed`` ids answer 404 (``gone_status``), ``edited``
ids show a new text, ``empty`` ids show a page without the post, ``broken_layout`` renames the
list markup so no link is found, ``detail_layout_changed`` renames the detail pages' title and
body markup, ``error_status`` (500, 502 …) is answered for every page but robots.txt,
``robots_txt`` off answers robots.txt 404, and ``delay`` slows every detail page.

    python -m crawler.sandbox.bulk --pages 1500 [--per-list 9] [--port 0]   # in the foreground
"""

from __future__ import annotations

import argparse
import itertools
import math
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from html import escape
from http.server import BaseHTTPRequestHandler
from typing import Any

from crawler.sandbox.server import SiteHandle, load_posts, serve_site

SOURCE_TEMPLATE = """\
name: {name}
kind: html
start_urls: ["{base}/list/1.html"]
{extra}list:
  links: "ul.ads a.ad::attr(href)"
  next: "a.next::attr(href)"
detail:
  title: "h1.title::text"
  body: "div.body"
  posted_at: "span.time::text"
"""


def source_yaml(name: str, base_url: str, extra: str = "") -> str:
    """A source config for a bulk site at ``base_url`` (``extra``: more top-level lines)."""
    return SOURCE_TEMPLATE.format(name=name, base=base_url.rstrip("/"), extra=extra)


@dataclass
class BulkSite:
    pages: int = 1000
    per_list: int = 9
    delay: float = 0.0
    gone_status: int = 404
    removed: set[int] = field(default_factory=set)
    edited: dict[int, str] = field(default_factory=dict)
    empty: set[int] = field(default_factory=set)
    broken_layout: bool = False
    detail_layout_changed: bool = False
    error_status: int = 0
    robots_txt: bool = True
    hits: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.lists = max(1, math.ceil(self.pages / (self.per_list + 1)))
        self.details = self.pages - self.lists
        posts = load_posts("classified") + load_posts("forum")
        self._texts = [(p["title"], p["body"]) for p in posts]
        self._lock = threading.Lock()

    def ad_ids(self) -> list[int]:
        return list(range(1, self.details + 1))

    def ad_text(self, ad_id: int) -> tuple[str, str]:
        title, body = self._texts[(ad_id - 1) % len(self._texts)]
        if ad_id in self.edited:
            body = self.edited[ad_id]
        return f"{title}（{ad_id}号）", f"{body}\n编号 {ad_id}"

    def count(self, path: str) -> None:
        with self._lock:
            self.hits[path] += 1

    def route(self, path: str) -> tuple[int, bytes]:
        if path == "/robots.txt":
            if not self.robots_txt:
                return 404, b"not found"
            return 200, b"User-agent: *\nDisallow: /private/\n"
        if self.error_status:
            return self.error_status, b"<html><body><h1>Internal Server Error</h1></body></html>"
        if path.startswith("/list/") and path.endswith(".html"):
            number = int(path[len("/list/"):-len(".html")] or 0)
            if not 1 <= number <= self.lists:
                return 404, b"not found"
            first = (number - 1) * self.per_list + 1
            ids = range(first, min(first + self.per_list, self.details + 1))
            css = "entries" if self.broken_layout else "ads"
            rows = "".join(
                f'<li><a class="ad" href="/ad/{i}.html">{escape(self.ad_text(i)[0])}</a></li>'
                for i in ids
            )
            nxt = (f'<a class="next" href="/list/{number + 1}.html">下一页</a>'
                   if number < self.lists else "")
            html = (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>列表 {number}</title>'
                    f'</head><body><ul class="{css}">{rows}</ul>{nxt}</body></html>')
            return 200, html.encode()
        if path.startswith("/ad/") and path.endswith(".html"):
            if self.delay:
                time.sleep(self.delay)
            ad_id = int(path[len("/ad/"):-len(".html")] or 0)
            if not 1 <= ad_id <= self.details:
                return 404, b"not found"
            if ad_id in self.removed:
                return self.gone_status, b"<html><body>not found</body></html>"
            if ad_id in self.empty:
                return 200, "<html><body><p>该信息已删除</p></body></html>".encode()
            title, body = self.ad_text(ad_id)
            paragraphs = "".join(f"<p>{escape(line)}</p>" for line in body.split("\n") if line)
            heading, text = ("headline", "content") if self.detail_layout_changed else (
                "title", "body")
            html = (f'<!DOCTYPE html><html><head><meta charset="utf-8">'
                    f'<title>{escape(title)}</title></head>'
                    f'<body><h1 class="{heading}">{escape(title)}</h1>'
                    f'<span class="time">2026-11-{(ad_id % 28) + 1:02d} 10:00</span>'
                    f'<div class="{text}">{paragraphs}</div></body></html>')
            return 200, html.encode()
        return 404, b"not found"


class _Handler(BaseHTTPRequestHandler):
    site: BulkSite
    disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms stalls

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = self.path.split("?", 1)[0]
        self.site.count(path)
        status, body = self.site.route(path)
        self.send_response(status)
        content_type = "text/plain" if path == "/robots.txt" else "text/html; charset=utf-8"
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the crawler went away (a test stopped it)

    def handle(self) -> None:
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            pass


BulkHandle = SiteHandle


def start_bulk_site(site: BulkSite | None = None, port: int = 0) -> SiteHandle:
    """Serve ``site`` on 127.0.0.1 in a daemon thread; port 0 picks a free port."""
    return serve_site(site or BulkSite(), _Handler, "sandbox-bulk", port)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--per-list", type=int, default=9, help="detail links per list page")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    handle = start_bulk_site(BulkSite(pages=args.pages, per_list=args.per_list), args.port)
    print(handle.url, flush=True)
    try:
        for _ in itertools.count():
            time.sleep(3600)
    except KeyboardInterrupt:
        handle.stop()


if __name__ == "__main__":
    main()
