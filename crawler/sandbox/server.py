"""HTTP servers for the three sandbox sites.

- ``classified``: list pages ``/jiaoyu/pn{N}/`` and detail pages ``/post/{id}.shtml``, encoded in
  GBK and declaring it only in ``<meta>`` (the Content-Type header has no charset), as many
  Chinese classified sites do. robots.txt forbids ``/private/``. List page 1 also links there,
  to a missing post (404), a failing one (500) and an empty page.
- ``forum``: a Discuz-style board ``/forum-36-{N}.html`` with threads ``/thread-{tid}-1-1.html``.
- ``app``: a JSON API ``/api/v1/posts?page=N`` → ``{"data": {"list": [...], "hasMore": ...}}``
  and ``/api/v1/post/{postId}``.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass, field
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

DATA_DIR = Path(__file__).resolve().parent / "data"
SITES = ("classified", "forum", "app")
DEFAULT_PORTS = {"classified": 8701, "forum": 8702, "app": 8703}
PER_PAGE = {"classified": 10, "forum": 8, "app": 10}


class SandboxServer(ThreadingHTTPServer):
    """A threaded loopback server that, like a real site's, accepts many connections at once.

    Python's default listen backlog is 5. A crawler opening 8 connections at once then has some
    of its connection attempts dropped, and the kernel retries them only after a second: the crawl
    would measure TCP retransmits instead of the site. The backlog is set before ``listen``.
    """

    daemon_threads = True
    request_queue_size = 128


@dataclass
class SiteHandle:
    """One made-up site served on 127.0.0.1 in a daemon thread (:func:`serve_site`)."""

    site: Any
    server: SandboxServer

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def serve_site(site: Any, handler: type[BaseHTTPRequestHandler], name: str,
               port: int = 0, host: str = "127.0.0.1") -> SiteHandle:
    """Serve ``site`` with a subclass of ``handler`` that knows it (as ``site``); port 0 picks a
    free port. ``host``: another loopback address (127.0.0.2 …) makes another download slot."""
    bound = type(f"{handler.__name__}For{type(site).__name__}", (handler,), {"site": site})
    server = SandboxServer((host, port), bound)
    threading.Thread(target=server.serve_forever, name=name, daemon=True).start()
    return SiteHandle(site, server)


def load_posts(site: str, data_dir: Path = DATA_DIR) -> list[dict[str, Any]]:
    with open(data_dir / f"{site}.jsonl", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _paragraphs(body: str) -> str:
    """Body text as HTML: blank lines separate <p>, single newlines become <br>."""
    paras = [p for p in body.split("\n\n") if p.strip()]
    return "".join(
        "<p>" + "<br>".join(escape(line) for line in p.split("\n")) + "</p>" for p in paras
    )


class _Handler(BaseHTTPRequestHandler):
    site: SiteData  # set on the subclass per server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet in tests
        self.site.hits.append(self.path)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        parts = urlsplit(self.path)
        try:
            status, content_type, body = self.site.route(parts.path, parse_qs(parts.query))
        except Exception as exc:  # a bug in the sandbox must not hang a crawl
            status, content_type, body = 500, "text/plain", str(exc).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@dataclass
class SiteData:
    name: str
    posts: list[dict[str, Any]]
    hits: list[str] = field(default_factory=list)

    def pages(self) -> int:
        return max(1, math.ceil(len(self.posts) / PER_PAGE[self.name]))

    def page(self, number: int) -> list[dict[str, Any]]:
        size = PER_PAGE[self.name]
        return self.posts[(number - 1) * size: number * size]

    def route(self, path: str, query: dict[str, list[str]]) -> tuple[int, str, bytes]:
        return getattr(self, f"route_{self.name}")(path, query)

    # --- classified: GBK, charset only in <meta> -------------------------------------------------
    def _gbk(self, html: str) -> tuple[int, str, bytes]:
        return 200, "text/html", html.encode("gbk", errors="xmlcharrefreplace")

    def route_classified(self, path: str, query: dict) -> tuple[int, str, bytes]:
        head = ('<!DOCTYPE html><html><head>'
                '<meta http-equiv="Content-Type" content="text/html; charset=gbk">')
        if path == "/robots.txt":
            return 200, "text/plain", b"User-agent: *\nDisallow: /private/\n"
        if path.startswith("/jiaoyu/pn") and path.endswith("/"):
            number = int(path[len("/jiaoyu/pn"):-1] or 0)
            if not 1 <= number <= self.pages():
                return 404, "text/html", b"not found"
            rows = "".join(
                f'<li class="item"><a class="t" href="/post/{p["id"]}.shtml">'
                f'{escape(p["title"])}</a>'
                f'<span class="area">{escape(p["region"])}</span></li>'
                for p in self.page(number)
            )
            if number == 1:
                # A page robots.txt forbids, a dead link, a failing server and an empty page.
                for href in ("/private/hidden.shtml", "/post/404.shtml", "/post/500.shtml",
                             "/post/blank.shtml"):
                    rows += f'<li class="item"><a class="t" href="{href}">链接</a></li>'
            nxt = (f'<a class="next" href="/jiaoyu/pn{number + 1}/">下一页</a>'
                   if number < self.pages() else "")
            html = (f'{head}<title>长沙 教育培训 生活服务 - 第{number}页</title></head><body>'
                    f'<div class="nav">首页 &gt; 长沙分类信息</div><ul class="infolist">{rows}</ul>'
                    f'<div class="pager">{nxt}</div></body></html>')
            return self._gbk(html)
        if path == "/post/500.shtml":
            return 500, "text/html", b"<h1>Internal Server Error</h1>"
        if path == "/post/blank.shtml":
            return self._gbk(f"{head}<title>blank</title></head><body></body></html>")
        if path.startswith("/post/") and path.endswith(".shtml"):
            post = next((p for p in self.posts if f'/post/{p["id"]}.shtml' == path), None)
            if post is None:
                return 404, "text/html", b"not found"
            html = (f'{head}<title>{escape(post["title"])} - 长沙分类信息</title></head><body>'
                    f'<div class="crumb">长沙 &gt; {escape(post["section"])}</div>'
                    f'<h1 class="title">{escape(post["title"])}</h1>'
                    f'<div class="meta">发布时间：'
                    f'<span class="pubtime">{escape(post["posted_at"])}</span>'
                    f' 区域：{escape(post["region"])}</div>'
                    f'<div class="desc">{_paragraphs(post["body"])}</div>'
                    f'<div class="contact">联系人：'
                    f'<span class="name">{escape(post["contact_name"])}</span>'
                    f' 电话：<span class="phone">{escape(post["phone"])}</span></div>'
                    '<div class="footer">联系我时，请说是在本站看到的，谢谢！</div></body></html>')
            return self._gbk(html)
        return 404, "text/html", b"not found"

    # --- forum: Discuz-style markup, UTF-8 --------------------------------------------------------
    def route_forum(self, path: str, query: dict) -> tuple[int, str, bytes]:
        utf8 = "text/html; charset=utf-8"
        if path == "/robots.txt":
            return 200, "text/plain", b"User-agent: *\nDisallow: /admin.php\n"
        if path.startswith("/forum-36-") and path.endswith(".html"):
            number = int(path[len("/forum-36-"):-len(".html")] or 0)
            if not 1 <= number <= self.pages():
                return 404, utf8, b"not found"
            rows = "".join(
                f'<tbody id="normalthread_{p["id"]}"><tr><th class="common">'
                f'<a href="thread-{p["id"]}-1-1.html" class="s xst">{escape(p["title"])}</a></th>'
                f'<td class="by"><cite>{escape(p["author"])}</cite></td></tr></tbody>'
                for p in self.page(number)
            )
            nxt = (f'<a href="forum-36-{number + 1}.html" class="nxt">下一页</a>'
                   if number < self.pages() else "")
            html = (f'<!DOCTYPE html><html><head><meta charset="utf-8">'
                    f'<title>亲子教育 - 本地论坛</title>'
                    f'</head><body><div id="pt">本地论坛 » 教育 » 亲子教育</div>'
                    f'<table id="threadlisttableid">{rows}</table>'
                    f'<div class="pg">{nxt}</div></body></html>')
            return 200, utf8, html.encode()
        if path.startswith("/thread-") and path.endswith("-1-1.html"):
            tid = path[len("/thread-"):-len("-1-1.html")]
            post = next((p for p in self.posts if str(p["id"]) == tid), None)
            if post is None:
                return 404, utf8, b"not found"
            html = (f'<!DOCTYPE html><html><head><meta charset="utf-8">'
                    f'<title>{escape(post["title"])} - 亲子教育 - 本地论坛</title></head><body>'
                    f'<h1 class="ts"><span id="thread_subject">{escape(post["title"])}</span></h1>'
                    f'<div id="post_1"><div class="authi">'
                    f'<a class="xw1">{escape(post["author"])}</a>'
                    f' <em id="authorposton{tid}">发表于 {escape(post["posted_at"])}</em></div>'
                    f'<table><tr><td class="t_f" id="postmessage_{tid}">'
                    f'{_paragraphs(post["body"]).replace("<p>", "").replace("</p>", "<br><br>")}'
                    f'</td></tr></table></div>'
                    f'<div id="post_2"><em id="authorposton{tid}r">发表于 2026-11-01 09:00</em>'
                    f'<td class="reply">顶一下</td></div></body></html>')
            return 200, utf8, html.encode()
        return 404, utf8, b"not found"

    # --- app: JSON API ---------------------------------------------------------------------------
    def route_app(self, path: str, query: dict) -> tuple[int, str, bytes]:
        def reply(data: Any, status: int = 200) -> tuple[int, str, bytes]:
            body = json.dumps(data, ensure_ascii=False).encode()
            return status, "application/json; charset=utf-8", body

        if path == "/robots.txt":
            return 200, "text/plain", b"User-agent: *\nDisallow: /api/v1/admin\n"
        if path == "/api/v1/posts":
            try:
                number = int(query.get("page", ["1"])[0])
            except ValueError:
                return reply({"code": 400, "msg": "bad page"}, 400)
            rows = [{"postId": p["postId"], "title": p["title"], "nickname": p["nickname"]}
                    for p in self.page(number)] if number >= 1 else []
            return reply({"code": 0, "data": {"list": rows, "page": number,
                                              "hasMore": number < self.pages()}})
        if path.startswith("/api/v1/post/"):
            post_id = path[len("/api/v1/post/"):]
            post = next((p for p in self.posts if p["postId"] == post_id), None)
            if post is None:
                return reply({"code": 404, "msg": "not found"}, 404)
            return reply({"code": 0, "data": {
                "postId": post["postId"], "title": post["title"], "content": post["content"],
                "createdAt": post["createdAt"], "author": {"nickname": post["nickname"]},
                "contact": {"wechat": post["wechat"], "phone": post["phone"]},
            }})
        return reply({"code": 404, "msg": "not found"}, 404)


@dataclass
class SandboxHandle:
    """Running sandbox servers: ``urls[site]`` is each site's base URL."""

    servers: dict[str, SandboxServer]
    sites: dict[str, SiteData]

    @property
    def ports(self) -> dict[str, int]:
        return {name: server.server_address[1] for name, server in self.servers.items()}

    @property
    def urls(self) -> dict[str, str]:
        return {name: f"http://127.0.0.1:{port}" for name, port in self.ports.items()}

    def stop(self) -> None:
        for server in self.servers.values():
            server.shutdown()
            server.server_close()


def start_sandbox(ports: dict[str, int] | None = None, data_dir: Path = DATA_DIR) -> SandboxHandle:
    """Serve every sandbox site on 127.0.0.1 in daemon threads; port 0 picks a free port."""
    ports = ports if ports is not None else {name: 0 for name in SITES}
    servers, sites = {}, {}
    try:
        for name in SITES:
            site = SiteData(name, load_posts(name, data_dir))
            handler = type(f"{name.title()}Handler", (_Handler,), {"site": site})
            server = SandboxServer(("127.0.0.1", ports.get(name, 0)), handler)
            threading.Thread(
                target=server.serve_forever, name=f"sandbox-{name}", daemon=True
            ).start()
            servers[name], sites[name] = server, site
    except OSError:
        SandboxHandle(servers, sites).stop()
        raise
    return SandboxHandle(servers, sites)
