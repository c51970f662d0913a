"""A sandbox portal for the discovery tests: feeds, sitemaps and a site search over the forum
sandbox's posts (issue 18 points 3 and 4).

- ``/post/{id}.html``: each post's page (``h1.title``, ``div.content``, ``span.date``);
- ``/feed/`` RSS 2.0 with ``content:encoded`` (WordPress-style) of the latest ``FEED_SIZE``
  posts, ``/feed/atom/`` the same as Atom 1.0 with only an excerpt in ``<summary>``;
  ``/feed/broken/`` a page that is not a feed;
- ``/sitemap.xml``: a sitemap index naming ``/sitemap-posts.xml`` (every post, each with its
  ``<lastmod>``) and ``/sitemap-pages.xml`` (about, contact and tag pages: not ads);
  ``/robots.txt`` names ``/sitemap.xml``;
- ``/search?key={q}&page={n}``: posts whose title or text contains ``q``, ``SEARCH_PER_PAGE``
  a page, linked as ``ul.results a.t``, with the next page as ``a.next``.

``python -m crawler.sandbox.discovery`` serves it in the foreground on port 8721.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from html import escape
from typing import Any

from crawler.sandbox.routed import Reply, Routed, html, not_found, serve
from crawler.sandbox.server import load_posts

DEFAULT_PORT = 8721
FEED_SIZE = 10
SEARCH_PER_PAGE = 3
CHINA = timezone(timedelta(hours=8))
XML = "application/xml; charset=utf-8"


def _when(post: dict[str, Any]) -> datetime:
    return datetime.strptime(post["posted_at"], "%Y-%m-%d %H:%M").replace(tzinfo=CHINA)


def _body_html(post: dict[str, Any]) -> str:
    return "".join("<p>" + "<br>".join(escape(line) for line in para.split("\n")) + "</p>"
                   for para in post["body"].split("\n\n") if para.strip())


def _page(title: str, content: str) -> str:
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{escape(title)} - 县城门户'
            f'</title></head><body><div class="nav"><a href="/">首页</a> 县城门户</div>'
            f'{content}<div class="footer">县城门户 版权所有</div></body></html>')


class Portal:
    def __init__(self, posts: list[dict[str, Any]]) -> None:
        self.posts = sorted(posts, key=_when, reverse=True)  # newest first, as feeds are

    def post(self, post_id: str) -> dict[str, Any] | None:
        return next((p for p in self.posts if str(p["id"]) == post_id), None)

    def route(self, path: str, query: dict[str, list[str]]) -> Reply:
        xml = {"Content-Type": XML}
        if path == "/robots.txt":
            return 200, {"Content-Type": "text/plain"}, (
                b"User-agent: *\nAllow: /\nSitemap: /sitemap.xml\n")
        if path.startswith("/post/") and path.endswith(".html"):
            post = self.post(path[len("/post/"):-len(".html")])
            if post is None:
                return not_found()
            return html(_page(post["title"], (
                f'<h1 class="title">{escape(post["title"])}</h1><div class="meta">'
                f'<span class="date">{post["posted_at"]}</span> {escape(post["author"])}</div>'
                f'<div class="content">{_body_html(post)}</div>')))
        if path in ("/about.html", "/contact.html", "/tag/jiaoyu/"):
            return html(_page("关于我们", "<p>县城门户，服务本地生活。</p>"))
        if path == "/feed/":
            return 200, {"Content-Type": "application/rss+xml; charset=utf-8"}, self.rss()
        if path == "/feed/atom/":
            return 200, {"Content-Type": "application/atom+xml; charset=utf-8"}, self.atom()
        if path == "/feed/broken/":
            return html(_page("出错了", "<p>页面出错</p>"))
        if path == "/sitemap.xml":
            return 200, xml, self.sitemap_index()
        if path == "/sitemap-posts.xml":
            return 200, xml, self.urlset([(f"/post/{p['id']}.html", _when(p))
                                          for p in self.posts])
        if path == "/sitemap-pages.xml":
            return 200, xml, self.urlset([(p, None) for p in ("/about.html", "/contact.html",
                                                              "/tag/jiaoyu/")])
        if path == "/search":
            return self.search(query)
        return not_found()

    # --- feeds ------------------------------------------------------------------------------
    def rss(self) -> bytes:
        items = "".join(
            f"<item><title>{escape(p['title'])}</title><link>/post/{p['id']}.html</link>"
            f"<pubDate>{format_datetime(_when(p))}</pubDate>"
            f"<dc:creator><![CDATA[{p['author']}]]></dc:creator>"
            f"<guid isPermaLink=\"false\">/?p={p['id']}</guid>"
            f"<description><![CDATA[{p['body'][:40]} […]]]></description>"
            f"<content:encoded><![CDATA[{_body_html(p)}]]></content:encoded></item>"
            for p in self.posts[:FEED_SIZE])
        return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
                'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
                'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>县城门户</title>'
                f'<link>/</link><description>县城门户</description>{items}</channel></rss>'
                ).encode()

    def atom(self) -> bytes:
        entries = "".join(
            f"<entry><title>{escape(p['title'])}</title>"
            f"<link rel=\"alternate\" type=\"text/html\" href=\"/post/{p['id']}.html\"/>"
            f"<id>tag:portal,2026:{p['id']}</id><updated>{_when(p).isoformat()}</updated>"
            f"<summary type=\"html\">{escape(p['body'][:40])}</summary></entry>"
            for p in self.posts[:FEED_SIZE])
        return ('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
                f'<title>县城门户</title><id>tag:portal,2026:feed</id>'
                f'<updated>{_when(self.posts[0]).isoformat()}</updated>{entries}</feed>'
                ).encode()

    # --- sitemaps ---------------------------------------------------------------------------
    @staticmethod
    def sitemap_index() -> bytes:
        names = "".join(f"<sitemap><loc>/sitemap-{n}.xml</loc></sitemap>"
                        for n in ("posts", "pages"))
        return ('<?xml version="1.0" encoding="UTF-8"?><sitemapindex '
                f'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{names}</sitemapindex>'
                ).encode()

    @staticmethod
    def urlset(urls: list[tuple[str, datetime | None]]) -> bytes:
        rows = "".join(f"<url><loc>{u}</loc>"
                       + (f"<lastmod>{when.date().isoformat()}</lastmod>" if when else "")
                       + "</url>" for u, when in urls)
        return ('<?xml version="1.0" encoding="UTF-8"?><urlset '
                f'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{rows}</urlset>'
                ).encode()

    # --- site search --------------------------------------------------------------------------
    def search(self, query: dict[str, list[str]]) -> Reply:
        term = (query.get("key") or [""])[0]
        number = int((query.get("page") or ["1"])[0] or 1)
        found = [p for p in self.posts if term and (term in p["title"] or term in p["body"])]
        shown = found[(number - 1) * SEARCH_PER_PAGE: number * SEARCH_PER_PAGE]
        rows = "".join(f'<li><a class="t" href="/post/{p["id"]}.html">{escape(p["title"])}</a>'
                       f"</li>" for p in shown)
        more = number * SEARCH_PER_PAGE < len(found)
        pager = (f'<a class="next" href="/search?key={escape(term)}&amp;page={number + 1}">'
                 "下一页</a>" if more else "")
        empty = "" if found else '<p class="none">没有找到相关内容</p>'
        return html(_page(f"搜索：{term}", f'<p>找到 {len(found)} 条</p><ul class="results">'
                          f"{rows}</ul>{empty}<div class=\"pager\">{pager}</div>"))



def start_portal(port: int = 0) -> Routed:
    """Serve the portal on 127.0.0.1 in a daemon thread (a free port unless given)."""
    portal = Portal(load_posts("forum"))
    handle: Routed | None = None

    def route(path: str, query: dict[str, list[str]]) -> Reply:
        status, headers, body = portal.route(path, query)
        if handle is not None and "xml" in headers.get("Content-Type", ""):
            # Feeds and sitemaps name absolute URLs: the sandbox learns its port once serving.
            body = body.replace(b"<loc>/", f"<loc>{handle.url}/".encode())
            body = body.replace(b"<link>/", f"<link>{handle.url}/".encode())
            body = body.replace(b'href="/', f'href="{handle.url}/'.encode())
        if path == "/robots.txt" and handle is not None:
            body = body.replace(b"Sitemap: /", f"Sitemap: {handle.url}/".encode())
        return status, headers, body

    handle = serve(route, port)
    return handle


if __name__ == "__main__":
    import time

    running = start_portal(DEFAULT_PORT)
    for path in ("/feed/", "/feed/atom/", "/sitemap.xml", "/search?key=托管&page=1"):
        print(running.url + path)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        running.stop()
