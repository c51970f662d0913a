# Engine markup copied in long template lines, as the engines print it: ruff counts each CJK
# character as two columns.
# ruff: noqa: E501
"""Sandbox sites in the default markup of the engines that ``engine:`` presets serve
(``crawler.engines``), for the preset tests and for trying a preset by hand.

Each site serves the forum sandbox's hand-written posts (``data/forum.jsonl``) the way the engine's
default templates print them, with what surrounds a post on a real site (announcements, sticky
rows, pagers with first/previous/last links, replies, sidebars):

- ``discuz_x3``: ``/forum.php?mod=forumdisplay&fid=36&page=N`` and
  ``/forum.php?mod=viewthread&tid=TID&extra=page%3D1`` (UTF-8; half the posts show a relative
  date, ``<span title="...">3 天前</span>``, as Discuz does for recent posts), and the mobile API
  ``/api/mobile/index.php?version=4&module=forumdisplay|viewthread`` (20 threads a page, as
  Discuz's default; a page past the end answers the last page, as Discuz does).
- ``dedecms``: ``/a/jiaoyu/list_3_N.html`` and ``/a/jiaoyu/2026/MMDD/ID.html`` (GB2312 declared in
  ``<meta>`` only, as DedeCMS's GBK edition).
- ``wordpress``: ``/category/jiaoyu/`` (``page/N/``) and ``/2026/MM/DD/post-ID/`` (Twenty
  Twenty-One markup), and the REST API ``/wp-json/wp/v2/posts`` (``per_page`` default 10; a page
  past the end is a 400, as WordPress answers) and ``/wp-json/wp/v2/posts/ID``.
- ``phpwind``: ``/thread.php?fid=2&page=N`` and ``/read.php?tid=TID`` (phpwind 8 "wind" markup,
  GBK declared in ``<meta>`` only).

``start_engine_sandbox()`` serves them all on 127.0.0.1 (free ports unless given);
``ENGINE_START_URLS`` are the paths a source starts from. ``python -m crawler.sandbox.engines``
serves them in the foreground on ``DEFAULT_ENGINE_PORTS`` and prints a source for each, to try a
preset by hand (``tutorwatch try --source FILE``, with ``TUTORWATCH_ALLOW_NETWORKS=127.0.0.0/8``).
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass, field
from html import escape
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from crawler.sandbox.server import SandboxServer, load_posts

ENGINE_SITES = ("discuz_x3", "dedecms", "wordpress", "phpwind")
ENGINE_START_URLS = {
    # site: {kind: start path}
    "discuz_x3": {"html": "/forum.php?mod=forumdisplay&fid=36&page=1",
                  "json": "/api/mobile/index.php?version=4&module=forumdisplay&fid=36&page=1"},
    "dedecms": {"html": "/a/jiaoyu/list_3_1.html"},
    "wordpress": {"html": "/category/jiaoyu/", "json": "/wp-json/wp/v2/posts"},
    "phpwind": {"html": "/thread.php?fid=2&page=1"},
}
DEFAULT_ENGINE_PORTS = {"discuz_x3": 8711, "dedecms": 8712, "wordpress": 8713, "phpwind": 8714}
HTML_PER_PAGE = 8
DISCUZ_TPP = 20
WP_PER_PAGE = 10

Reply = tuple[int, str, bytes]


def _lines(body: str) -> list[list[str]]:
    """Paragraphs (split on blank lines), each a list of escaped lines."""
    return [[escape(line) for line in p.split("\n")] for p in body.split("\n\n") if p.strip()]


def _br_html(body: str) -> str:
    """Forum-style body: lines joined by <br />, paragraphs by an empty line (Discuz, phpwind)."""
    return "<br />\r\n<br />\r\n".join("<br />\r\n".join(p) for p in _lines(body))


def _p_html(body: str) -> str:
    """Editor-style body: one <p> a paragraph, <br /> inside (DedeCMS, WordPress)."""
    return "\n".join(f"<p>{'<br />'.join(p)}</p>" for p in _lines(body))


def _date_parts(post: dict[str, Any]) -> tuple[str, str, str]:
    """(YYYY-MM-DD, HH:MM, MMDD) of a post's date."""
    day, _, clock = post["posted_at"].partition(" ")
    return day, clock or "00:00", day[5:7] + day[8:10]


@dataclass
class EngineSite:
    name: str
    posts: list[dict[str, Any]]
    hits: list[str] = field(default_factory=list)

    def post(self, post_id: str) -> dict[str, Any] | None:
        return next((p for p in self.posts if str(p["id"]) == post_id), None)

    def page_of(self, number: int, size: int) -> list[dict[str, Any]]:
        return self.posts[(number - 1) * size: number * size]

    def pages(self, size: int) -> int:
        return max(1, math.ceil(len(self.posts) / size))

    def route(self, path: str, query: dict[str, list[str]]) -> Reply:
        if path == "/robots.txt":
            return 200, "text/plain", b"User-agent: *\nDisallow: /admin/\n"
        return getattr(self, f"route_{self.name}")(path, {k: v[0] for k, v in query.items()})

    @staticmethod
    def _number(value: str | None) -> int:
        return int(value) if value and value.isdigit() else 1

    # --- Discuz! X3 --------------------------------------------------------------------------
    def route_discuz_x3(self, path: str, query: dict[str, str]) -> Reply:
        utf8 = "text/html; charset=utf-8"
        if path == "/api/mobile/index.php":
            return self._discuz_api(query)
        if path != "/forum.php":
            return 404, utf8, b"not found"
        if query.get("mod") == "forumdisplay" and query.get("fid") == "36":
            number = self._number(query.get("page"))
            if number > self.pages(HTML_PER_PAGE):
                number = self.pages(HTML_PER_PAGE)  # Discuz shows the last page
            return 200, utf8, self._discuz_list(number).encode()
        if query.get("mod") == "viewthread":
            post = self.post(query.get("tid", ""))
            if post is None:
                return 200, utf8, self._discuz_message("抱歉，指定的主题不存在或已被删除或正在被审核").encode()
            return 200, utf8, self._discuz_thread(post).encode()
        return 404, utf8, b"not found"

    def _discuz_page(self, title: str, content: str) -> str:
        return ('<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
                '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
                '<html xmlns="http://www.w3.org/1999/xhtml"><head>'
                '<meta http-equiv="Content-Type" content="text/html; charset=utf-8" />'
                f'<title>{title} -  Powered by Discuz!</title>'
                '<script src="data/cache/common.js" type="text/javascript"></script></head>'
                '<body id="nv_forum" class="pg_forumdisplay">'
                '<div id="hd"><div class="wp"><div class="hdc cl"><h2><a href="./" title="县城论坛">'
                '<img src="static/image/common/logo.png" alt="县城论坛" /></a></h2></div></div></div>'
                f'<div id="wp" class="wp">{content}</div>'
                '<div id="ft" class="wp cl"><div id="flk" class="y"><p><a href="archiver/">Archiver</a>'
                '</p></div><div id="frt"><p>Powered by <strong><a href="https://www.discuz.vip">'
                'Discuz!</a></strong> <em>X3.4</em></p></div></div></body></html>')

    def _discuz_message(self, text: str) -> str:
        return self._discuz_page("提示信息", f'<div id="messagetext" class="alert_error"><p>{text}</p></div>')

    def _discuz_pager(self, number: int) -> str:
        pages = self.pages(HTML_PER_PAGE)
        url = "forum.php?mod=forumdisplay&amp;fid=36&amp;page={}"
        links = "".join(f"<strong>{n}</strong>" if n == number else f'<a href="{url.format(n)}">{n}</a>'
                        for n in range(1, pages + 1))
        nxt = f'<a href="{url.format(number + 1)}" class="nxt">下一页</a>' if number < pages else ""
        prev = f'<a href="{url.format(number - 1)}" class="prev">&nbsp;&nbsp;</a>' if number > 1 else ""
        return f'<div class="pg">{prev}{links}<label><input type="text" name="custompage" class="px" size="2" value="{number}" /><span title="共 {pages} 页"> / {pages} 页</span></label>{nxt}</div>'

    def _discuz_list(self, number: int) -> str:
        rows = []
        if number == 1:
            rows.append('<tbody><tr><td class="icn"><img src="static/image/common/ann_icon.gif" alt="公告" /></td>'
                        '<th><strong class="xst">公告: <a href="forum.php?mod=announcement&amp;id=1#1" '
                        'target="_blank">本版版规（发帖前必读）</a></strong></th><td class="by"><cite>'
                        '<a href="home.php?mod=space&amp;uid=1" c="1">admin</a></cite><em>2026-1-1</em></td>'
                        '<td class="num">&nbsp;</td><td class="by">&nbsp;</td></tr></tbody>'
                        '<tbody id="separatorline" class="emptb"><tr><td class="icn"></td><th></th>'
                        '<td class="by"></td><td class="num"></td><td class="by"></td></tr></tbody>')
        for index, post in enumerate(self.page_of(number, HTML_PER_PAGE)):
            tid = post["id"]
            row_id = "stickthread" if number == 1 and index == 0 else "normalthread"
            href = f"forum.php?mod=viewthread&amp;tid={tid}&amp;extra=page%3D{number}"
            rows.append(
                f'<tbody id="{row_id}_{tid}"><tr><td class="icn"><a href="{href}" title="有新回复 - 新窗口打开" '
                f'target="_blank"><img src="static/image/common/folder_new.gif" /></a></td>'
                f'<th class="new"><a class="tdpre y" href="javascript:void(0);" '
                f'onclick="previewThread(\'{tid}\', \'{row_id}_{tid}\');">预览</a> '
                f'<em>[<a href="forum.php?mod=forumdisplay&amp;fid=36&amp;filter=typeid&amp;typeid=2">求助</a>]</em> '
                f'<a href="{href}" onclick="atarget(this)" class="s xst">{escape(post["title"])}</a></th>'
                f'<td class="by"><cite><a href="home.php?mod=space&amp;uid={tid}" c="1">'
                f'{escape(post["author"])}</a></cite><em><span>{_date_parts(post)[0]}</span></em></td>'
                f'<td class="num"><a href="{href}" class="xi2">3</a><em>120</em></td>'
                f'<td class="by"><cite><a href="home.php?mod=space&amp;username=x" c="1">路过</a></cite>'
                f'<em><a href="forum.php?mod=redirect&amp;tid={tid}&amp;goto=lastpost#lastpost">'
                f'2026-11-1 09:00</a></em></td></tr></tbody>')
        content = (f'<div id="pt" class="bm cl"><div class="z"><a href="./" class="nvhm">县城论坛</a> <em>&rsaquo;</em> '
                   f'<a href="forum.php">论坛</a> <em>&rsaquo;</em> <a href="forum.php?mod=forumdisplay&amp;fid=36">亲子教育</a></div></div>'
                   f'<div id="pgt" class="bm bw0 pgs cl"><span id="fd_page_top">{self._discuz_pager(number)}</span></div>'
                   f'<div id="threadlist" class="tl bm bmw"><div class="bm_c"><form method="post" autocomplete="off" '
                   f'name="moderate" id="moderate" action="forum.php?mod=topicadmin&amp;action=moderate&amp;fid=36">'
                   f'<table summary="forum_36" cellspacing="0" cellpadding="0" id="threadlisttableid">{"".join(rows)}'
                   f'</table></form></div></div>'
                   f'<div class="bm bw0 pgs cl"><span id="fd_page_bottom">{self._discuz_pager(number)}</span></div>')
        return self._discuz_page("亲子教育 - 县城论坛", content)

    def _discuz_date(self, post: dict[str, Any]) -> str:
        day, clock, _ = _date_parts(post)
        shown = f"{int(day[:4])}-{int(day[5:7])}-{int(day[8:10])} {clock}"
        if post["id"] % 2:  # a recent post: Discuz shows how long ago, the date in the title
            return f'发表于 <span title="{shown}">3&nbsp;天前</span>'
        return f"发表于 {shown}"

    def _discuz_thread(self, post: dict[str, Any]) -> str:
        tid = post["id"]
        pid, reply_pid = tid * 10, tid * 10 + 1

        def node(pid: int, author: str, date: str, message: str) -> str:
            return (f'<div id="post_{pid}"><table id="pid{pid}" class="plhin" summary="pid{pid}" cellspacing="0" '
                    f'cellpadding="0"><tr><td class="pls" rowspan="2"><div class="pi"><div class="authi">'
                    f'<a href="home.php?mod=space&amp;uid={pid}" target="_blank" class="xw1">{escape(author)}</a>'
                    f'</div></div></td><td class="plc"><div class="pi"><div class="pti"><div class="authi">'
                    f'<img class="authicn vm" id="authicon{pid}" src="static/image/common/online_member.gif" />'
                    f'<em id="authorposton{pid}">{date}</em><span class="pipe">|</span>'
                    f'<a href="forum.php?mod=viewthread&amp;tid={tid}&amp;page=1&amp;authorid=1" rel="nofollow">只看该作者</a>'
                    f'</div></div></div><div class="pct"><div class="pcb"><div class="t_fsz">'
                    f'<table cellspacing="0" cellpadding="0"><tr><td class="t_f" id="postmessage_{pid}">\r\n'
                    f'{message}</td></tr></table></div></div></div></td></tr></table></div>')

        content = (f'<div id="pt" class="bm cl"><div class="z"><a href="./" class="nvhm">县城论坛</a> <em>&rsaquo;</em> '
                   f'<a href="forum.php?mod=forumdisplay&amp;fid=36">亲子教育</a> <em>&rsaquo;</em> '
                   f'<a href="forum.php?mod=viewthread&amp;tid={tid}">{escape(post["title"])}</a></div></div>'
                   f'<div id="postlist" class="pl bm"><table cellspacing="0" cellpadding="0"><tr>'
                   f'<td class="pls ptn pbn"><div class="hm ptn"><span class="xg1">查看:</span> <span class="xi1">120</span>'
                   f'<span class="pipe">|</span><span class="xg1">回复:</span> <span class="xi1">1</span></div></td>'
                   f'<td class="plc ptm pbn vwthd"><h1 class="ts"><a href="forum.php?mod=forumdisplay&amp;fid=36&amp;'
                   f'filter=typeid&amp;typeid=2">[求助]</a> <span id="thread_subject">{escape(post["title"])}</span>'
                   f'</h1></td></tr></table>'
                   + node(pid, post["author"], self._discuz_date(post), _br_html(post["body"]))
                   + node(reply_pid, "路过", "发表于 2026-11-1 09:00", "顶一下，同问。")
                   + '</div>')
        return self._discuz_page(f'{escape(post["title"])} - 亲子教育 - 县城论坛', content)

    def _discuz_api(self, query: dict[str, str]) -> Reply:
        def reply(variables: dict[str, Any]) -> Reply:
            data = {"Version": "4", "Charset": "UTF-8",
                    "Variables": {"cookiepre": "Dz_", "auth": None, "member_uid": "0", **variables}}
            return 200, "application/json; charset=utf-8", json.dumps(data, ensure_ascii=False).encode()

        module = query.get("module")
        if module == "forumdisplay" and query.get("fid") == "36":
            number = min(self._number(query.get("page")), self.pages(DISCUZ_TPP))
            threads = [{"tid": str(p["id"]), "author": p["author"], "authorid": str(p["id"]),
                        "subject": p["title"], "dateline": _date_parts(p)[0], "replies": "1",
                        "views": "120", "readperm": "0", "attachment": "0"}
                       for p in self.page_of(number, DISCUZ_TPP)]
            return reply({"forum": {"fid": "36", "fup": "1", "name": "亲子教育",
                                    "threads": str(len(self.posts)), "password": "0"},
                          "forum_threadlist": threads, "tpp": str(DISCUZ_TPP), "page": number})
        if module == "viewthread":
            post = self.post(query.get("tid", ""))
            if post is None:
                return reply({"Message": {"messageval": "thread_nonexistence",
                                          "messagestr": "抱歉，指定的主题不存在或已被删除或正在被审核"}})
            day, clock, _ = _date_parts(post)
            posts = [{"pid": str(post["id"] * 10), "tid": str(post["id"]), "first": "1",
                      "author": post["author"], "dateline": f"{day} {clock}",
                      "message": _br_html(post["body"]), "number": "1"},
                     {"pid": str(post["id"] * 10 + 1), "tid": str(post["id"]), "first": "0",
                      "author": "路过", "dateline": "2026-11-1 09:00", "message": "顶一下，同问。",
                      "number": "2"}]
            return reply({"thread": {"tid": str(post["id"]), "author": post["author"],
                                     "subject": post["title"], "views": "120", "replies": "1"},
                          "fid": "36", "postlist": posts, "ppp": "10"})
        return reply({"Message": {"messageval": "undefined_action", "messagestr": "未定义操作"}})

    # --- DedeCMS 5.7 -------------------------------------------------------------------------
    def _gbk(self, html: str) -> Reply:
        return 200, "text/html", html.encode("gbk", errors="xmlcharrefreplace")

    def _dede_page(self, title: str, body_class: str, content: str) -> str:
        return ('<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
                '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
                '<html xmlns="http://www.w3.org/1999/xhtml"><head>'
                '<meta http-equiv="Content-Type" content="text/html; charset=gb2312" />'
                f'<title>{title}_县教育信息网</title>'
                '<link href="/templets/default/style/dedecms.css" rel="stylesheet" media="screen" type="text/css" />'
                f'</head><body class="{body_class}"><div class="header_top w960 center"><span class="time">'
                '县教育信息网</span></div><div class="w960 center clear mt1"><div class="pleft">'
                '<div class="place"> <strong>当前位置:</strong> <a href="/">主页</a> &gt; '
                f'<a href="/a/jiaoyu/">教育资讯</a> &gt; </div>{content}</div><div class="pright"><div>'
                '<dl class="tbox"><dt><strong>栏目列表</strong></dt><dd><ul class="d6">'
                "<li><a href='/a/jiaoyu/' class='thisclass'>教育资讯</a></li></ul></dd></dl></div>"
                '<div class="hot mt1"><dl class="tbox light"><dt class="light"><strong>热点内容</strong></dt>'
                '<dd class="light"><ul class="c1 ico2"><li><a href="/a/jiaoyu/2026/0101/1.html">县教育局'
                '关于规范校外培训的通知</a></li></ul></dd></dl></div></div></div>'
                '<div class="footer w960 center mt1 clear"><div class="footer_body">'
                '<p class="powered">Powered by <a href="http://www.dedecms.com" title="织梦内容管理系统'
                '(DedeCms)" target="_blank"><strong>DedeCMS_V57_GBK_SP2</strong></a></p></div></div>'
                '</body></html>')

    def _dede_url(self, post: dict[str, Any]) -> str:
        return f"/a/jiaoyu/2026/{_date_parts(post)[2]}/{post['id']}.html"

    def route_dedecms(self, path: str, query: dict[str, str]) -> Reply:
        if path.startswith("/a/jiaoyu/list_3_") and path.endswith(".html"):
            number = path[len("/a/jiaoyu/list_3_"):-len(".html")]
            if not number.isdigit() or not 1 <= int(number) <= self.pages(HTML_PER_PAGE):
                return 404, "text/html", b"<h1>404 Not Found</h1>"
            return self._gbk(self._dede_list(int(number)))
        if path.startswith("/a/jiaoyu/2026/") and path.endswith(".html"):
            post = next((p for p in self.posts if self._dede_url(p) == path), None)
            if post is None:
                return 404, "text/html", b"<h1>404 Not Found</h1>"
            return self._gbk(self._dede_article(post))
        return 404, "text/html", b"<h1>404 Not Found</h1>"

    def _dede_list(self, number: int) -> str:
        pages = self.pages(HTML_PER_PAGE)
        rows = "".join(
            f"<li> [<b><a href='/a/jiaoyu/'>教育资讯</a></b>] <a href=\"{self._dede_url(p)}\" "
            f"class=\"title\">{escape(p['title'])}</a> <span class=\"info\"> <small>日期：</small>"
            f"{_date_parts(p)[0]} <small>点击：</small>120 <small>好评：</small>0 </span>"
            f"<p class=\"intro\"> {escape(p['body'][:40])}... </p></li>"
            for p in self.page_of(number, HTML_PER_PAGE))
        items = ["<li><a href='list_3_1.html'>首页</a></li>"]
        if number > 1:
            items.append(f"<li><a href='list_3_{number - 1}.html'>上一页</a></li>")
        for n in range(1, pages + 1):
            items.append(f"<li class=\"thisclass\">{n}</li>" if n == number
                         else f"<li><a href='list_3_{n}.html'>{n}</a></li>")
        if number < pages:
            items.append(f"<li><a href='list_3_{number + 1}.html'>下一页</a></li>")
        items.append(f"<li><a href='list_3_{pages}.html'>末页</a></li>")
        items.append(f"<li><span class=\"pageinfo\">共 <strong>{pages}</strong>页"
                     f"<strong>{len(self.posts)}</strong>条</span></li>")
        content = (f'<div class="listbox"><ul class="e2">{rows}</ul></div>'
                   f'<div class="dede_pages"><ul class="pagelist">{"".join(items)}</ul></div>')
        return self._dede_page("教育资讯", "articlelist", content)

    def _dede_article(self, post: dict[str, Any]) -> str:
        day, clock, _ = _date_parts(post)
        content = (f'<div class="viewbox"><div class="title"><h2>{escape(post["title"])}</h2></div>'
                   f'<div class="info"> <small>时间:</small>{day} {clock}<small>来源:</small>未知 '
                   f'<small>作者:</small>{escape(post["author"])} <small>点击:</small> '
                   f'<script src="/plus/count.php?view=yes&aid={post["id"]}&mid=1" type=\'text/javascript\' '
                   f'language="javascript"></script> 次</div>'
                   f'<div class="content"><table width=\'100%\'><tr><td>{_p_html(post["body"])}'
                   f'</td></tr></table></div><div class="dede_pages"><ul class="pagelist"></ul></div>'
                   f'<div class="boxoff"><strong>------分隔线----------------------------</strong></div>'
                   f'<div class="handle"><div class="context"><ul><li>上一篇：没有了 </li>'
                   f'<li>下一篇：没有了 </li></ul></div></div></div>')
        return self._dede_page(escape(post["title"]), "articleview", content)

    # --- WordPress (Twenty Twenty-One) -------------------------------------------------------
    def _wp_url(self, post: dict[str, Any]) -> str:
        day = _date_parts(post)[0]
        return f"/{day[:4]}/{day[5:7]}/{day[8:10]}/post-{post['id']}/"

    def _wp_datetime(self, post: dict[str, Any]) -> str:
        day, clock, _ = _date_parts(post)
        return f"{day}T{clock}:00"

    def _wp_page(self, title: str, body_class: str, content: str) -> str:
        return ('<!doctype html>\n<html lang="zh-Hans"><head><meta charset="UTF-8" />'
                '<meta name="viewport" content="width=device-width, initial-scale=1" />'
                f'<title>{title} &#8211; 县城家长之家</title>'
                "<link rel='stylesheet' id='twenty-twenty-one-style-css' href='/wp-content/themes/"
                "twentytwentyone/style.css?ver=2.1' media='all' />"
                '<link rel="https://api.w.org/" href="/wp-json/" />'
                '<meta name="generator" content="WordPress 6.4" /></head>'
                f'<body class="{body_class} wp-embed-responsive">'
                '<div id="page" class="site"><a class="skip-link screen-reader-text" href="#content">跳至内容</a>'
                '<header id="masthead" class="site-header has-title-and-tagline"><div class="site-branding">'
                '<p class="site-title"><a href="/">县城家长之家</a></p></div></header>'
                f'<div id="content" class="site-content"><div id="primary" class="content-area">'
                f'<main id="main" class="site-main">{content}</main></div></div>'
                '<aside class="widget-area"><section id="recent-posts-2" class="widget widget_recent_entries">'
                '<h2 class="widget-title">近期文章</h2><nav aria-label="近期文章"><ul><li>'
                '<a href="/2026/01/01/hello-world/">世界，您好！</a></li></ul></nav></section></aside>'
                '<footer id="colophon" class="site-footer"><div class="powered-by">自豪地由'
                '<a href="https://cn.wordpress.org/">WordPress</a>驱动</div></footer></div></body></html>')

    def route_wordpress(self, path: str, query: dict[str, str]) -> Reply:
        utf8 = "text/html; charset=UTF-8"
        if path.startswith("/wp-json/wp/v2/posts"):
            return self._wp_api(path, query)
        number = 1
        if path.startswith("/category/jiaoyu/page/") and path.endswith("/"):
            number = self._number(path[len("/category/jiaoyu/page/"):-1])
            path = "/category/jiaoyu/"
        if path == "/category/jiaoyu/":
            if not 1 <= number <= self.pages(HTML_PER_PAGE):
                return 404, utf8, self._wp_page("未找到页面", "error404", "<h1 class=\"page-title\">"
                                                "抱歉！无法找到该页面。</h1>").encode()
            return 200, utf8, self._wp_archive(number).encode()
        post = next((p for p in self.posts if self._wp_url(p) == path), None)
        if post is None:
            return 404, utf8, self._wp_page("未找到页面", "error404", "<h1 class=\"page-title\">"
                                            "抱歉！无法找到该页面。</h1>").encode()
        return 200, utf8, self._wp_single(post).encode()

    def _wp_time(self, post: dict[str, Any]) -> str:
        day = _date_parts(post)[0]
        return (f'<span class="posted-on">发布于 <time class="entry-date published updated" '
                f'datetime="{self._wp_datetime(post)}+08:00">{int(day[:4])}年{int(day[5:7])}月'
                f'{int(day[8:10])}日</time></span>')

    def _wp_archive(self, number: int) -> str:
        pages = self.pages(HTML_PER_PAGE)
        articles = "".join(
            f'<article id="post-{p["id"]}" class="post-{p["id"]} post type-post status-publish '
            f'format-standard hentry category-jiaoyu entry"><header class="entry-header">'
            f'<h2 class="entry-title default-max-width"><a href="{self._wp_url(p)}">'
            f'{escape(p["title"])}</a></h2></header><div class="entry-content"><p>'
            f'{escape(p["body"][:40])} [&hellip;]</p></div><footer class="entry-footer '
            f'default-max-width">{self._wp_time(p)}</footer></article>'
            for p in self.page_of(number, HTML_PER_PAGE))

        def url(n: int) -> str:
            return "/category/jiaoyu/" if n == 1 else f"/category/jiaoyu/page/{n}/"

        links = "".join(f'<span aria-current="page" class="page-numbers current">{n}</span>'
                        if n == number else f'<a class="page-numbers" href="{url(n)}">{n}</a>'
                        for n in range(1, pages + 1))
        prev = f'<a class="prev page-numbers" href="{url(number - 1)}">上一页</a>' if number > 1 else ""
        nxt = f'<a class="next page-numbers" href="{url(number + 1)}">下一页</a>' if number < pages else ""
        nav = (f'<nav class="navigation pagination" aria-label="文章"><h2 class="screen-reader-text">'
               f'文章导航</h2><div class="nav-links">{prev}{links}{nxt}</div></nav>')
        header = ('<header class="page-header alignwide"><h1 class="page-title">分类：'
                  '<span>教育</span></h1></header>')
        return self._wp_page("教育", "archive category category-jiaoyu", header + articles + nav)

    def _wp_single(self, post: dict[str, Any]) -> str:
        article = (f'<article id="post-{post["id"]}" class="post-{post["id"]} post type-post '
                   f'status-publish format-standard hentry category-jiaoyu entry">'
                   f'<header class="entry-header alignwide"><h1 class="entry-title">'
                   f'{escape(post["title"])}</h1></header><div class="entry-content">'
                   f'{_p_html(post["body"])}</div><footer class="entry-footer default-max-width">'
                   f'<div class="posted-by">{self._wp_time(post)}<span class="byline">作者 '
                   f'<a href="/author/u{post["id"]}/" rel="author">{escape(post["author"])}</a>'
                   f'</span></div></footer></article>'
                   '<div id="comments" class="comments-area default-max-width show-avatars">'
                   '<h2 class="comments-title">《' + escape(post["title"]) + '》有1条评论</h2>'
                   '<ol class="comment-list"><li class="comment"><article class="comment-body">'
                   '<div class="comment-content"><p>同问，蹲一个。</p></div></article></li></ol></div>')
        return self._wp_page(escape(post["title"]), "post-template-default single single-post",
                             article)

    def _wp_api(self, path: str, query: dict[str, str]) -> Reply:
        def reply(data: Any, status: int = 200, total: int = 0) -> Reply:
            return status, "application/json; charset=UTF-8", json.dumps(data, ensure_ascii=False).encode()

        def as_json(post: dict[str, Any]) -> dict[str, Any]:
            return {"id": post["id"], "date": self._wp_datetime(post), "slug": f"post-{post['id']}",
                    "status": "publish", "type": "post", "link": self._wp_url(post),
                    "title": {"rendered": escape(post["title"], quote=False)},
                    "content": {"rendered": _p_html(post["body"]) + "\n", "protected": False},
                    "excerpt": {"rendered": f"<p>{escape(post['body'][:40])} [&hellip;]</p>\n",
                                "protected": False},
                    "author": 1, "categories": [3]}

        if path.rstrip("/") == "/wp-json/wp/v2/posts":
            per_page = self._number(query.get("per_page")) if query.get("per_page") else WP_PER_PAGE
            number = self._number(query.get("page"))
            if number > self.pages(per_page):
                return reply({"code": "rest_post_invalid_page_number",
                              "message": "请求的页码大于总页数。", "data": {"status": 400}}, 400)
            return reply([as_json(p) for p in self.page_of(number, per_page)])
        post = self.post(path[len("/wp-json/wp/v2/posts/"):].strip("/"))
        if post is None:
            return reply({"code": "rest_post_invalid_id", "message": "无效的文章ID。",
                          "data": {"status": 404}}, 404)
        return reply(as_json(post))

    # --- phpwind 8 ---------------------------------------------------------------------------
    def _pw_page(self, title: str, content: str) -> str:
        return ('<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
                '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
                '<html xmlns="http://www.w3.org/1999/xhtml"><head>'
                '<meta http-equiv="Content-Type" content="text/html; charset=gbk" />'
                f'<title>{title} - 县城社区 - Powered by phpwind</title>'
                '<meta name="generator" content="phpwind 8.7" />'
                '<link rel="stylesheet" href="images/wind/style.css" /></head><body>'
                '<div id="header"><div class="header_wrap"><a href="index.php" id="logo">县城社区</a></div></div>'
                f'<div id="main"><div id="breadCrumb"><a href="index.php">县城社区</a><em>&gt;</em>'
                f'<a href="thread.php?fid=2">亲子教育</a></div>{content}</div>'
                '<div id="footer"><div class="bottom tac">Powered by <a href="http://www.phpwind.net/" '
                'target="_blank"><b>phpwind v8.7</b></a></div></div></body></html>')

    def route_phpwind(self, path: str, query: dict[str, str]) -> Reply:
        if path == "/thread.php" and query.get("fid") == "2":
            number = min(self._number(query.get("page")), self.pages(HTML_PER_PAGE))
            return self._gbk(self._pw_list(number))
        if path == "/read.php":
            post = self.post(query.get("tid", ""))
            if post is None:
                return self._gbk(self._pw_page("论坛提示", '<div class="t" id="msg">帖子已被删除'
                                               '或不存在</div>'))
            return self._gbk(self._pw_read(post))
        return 404, "text/html", b"<h1>404 Not Found</h1>"

    def _pw_list(self, number: int) -> str:
        pages = self.pages(HTML_PER_PAGE)
        rows = "".join(
            f'<tr class="tr3 t_one"><td class="icon tar" width="30"><a title="开放主题" '
            f'href="read.php?tid={p["id"]}" target="_blank"><img src="images/wind/thread/topicnew.gif" '
            f'align="absmiddle" /></a></td><td class="subject" id="td_{p["id"]}">'
            f'<a href="read.php?tid={p["id"]}" name="readlink" id="a_ajax_{p["id"]}" '
            f'class="subject_t f14">{escape(p["title"])}</a>&nbsp;</td><td class="author">'
            f'<a href="u.php?uid={p["id"]}" class=" _cardshow">{escape(p["author"])}</a>'
            f'<p>{_date_parts(p)[0]}</p></td><td class="num"><em>1</em>/120</td>'
            f'<td class="author"><a href="read.php?tid={p["id"]}&amp;page=e#a">路过</a>'
            f'<p>2026-11-01 09:00</p></td></tr>'
            for p in self.page_of(number, HTML_PER_PAGE))
        url = "thread.php?fid=2&amp;page={}"
        pager = f'<div class="pages"><a href="{url.format(1)}" class="b">&laquo;</a>'
        pager += "".join(f"<b>{n}</b>" if n == number else f'<a href="{url.format(n)}">{n}</a>'
                         for n in range(max(1, number - 3), pages + 1))
        pager += (f'<a href="{url.format(pages)}" class="b">&raquo;</a><span class="pagesone">'
                  f'<span>Pages: {number}/{pages}</span><input type="text" size="3" />'
                  f'<button>Go</button></span></div>')
        content = (f'<div class="t3">{pager}</div><div class="t" id="ajaxtable"><table width="100%" '
                   f'cellspacing="0" cellpadding="0"><tr class="tr2"><td colspan="2" class="tac">文章'
                   f'</td><td class="author">作者</td><td class="num">回复/人气</td>'
                   f'<td class="author">最后发表</td></tr><tbody style="table-layout:fixed;">'
                   f'{rows}</tbody></table></div><div class="t3">{pager}</div>')
        return self._pw_page("亲子教育", content)

    def _pw_read(self, post: dict[str, Any]) -> str:
        day, clock, _ = _date_parts(post)

        def floor(key: str, author: str, date: str, title: str, body: str) -> str:
            heading = f'<h1 id="subject_tpc" class="read_h1">{title}</h1>' if key == "tpc" else ""
            return (f'<div class="t5 t2"><table width="100%" cellspacing="0" cellpadding="0" '
                    f'style="table-layout:fixed;"><tr class="tr1"><th style="padding:0;" rowspan="2" '
                    f'class="r_two" width="200"><div class="readName b"><a href="u.php?uid=1">'
                    f'{escape(author)}</a></div></th><th height="100%" class="r_one" valign="top" '
                    f'id="td_{key}" style="padding:0;overflow:hidden"><div class="tiptop"><span class="fl">'
                    f'<a class="s3 b" href="#{key}">{"楼主" if key == "tpc" else "沙发"}</a></span>'
                    f'<span class="fl gray" title="发表于: {date}" style="white-space:nowrap;">'
                    f'发表于: {date}</span><div class="c"></div></div>{heading}'
                    f'<div class="tpc_content"><div class="f14 mb10" id="read_{key}">{body}</div>'
                    f'</div></th></tr></table></div>')

        content = (floor("tpc", post["author"], f"{day} {clock}", escape(post["title"]),
                         _br_html(post["body"]))
                   + floor("2", "路过", "2026-11-01 09:00", "", "顶一下，同问。"))
        return self._pw_page(escape(post["title"]), content)


class _Handler(BaseHTTPRequestHandler):
    site: EngineSite  # set on the subclass per server

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
class EngineSandbox:
    """Running engine sites: ``urls[engine]`` is each site's base URL."""

    servers: dict[str, SandboxServer]
    sites: dict[str, EngineSite]

    @property
    def urls(self) -> dict[str, str]:
        return {name: f"http://127.0.0.1:{server.server_address[1]}"
                for name, server in self.servers.items()}

    def start_url(self, engine: str, kind: str = "html") -> str:
        return self.urls[engine] + ENGINE_START_URLS[engine][kind]

    def stop(self) -> None:
        for server in self.servers.values():
            server.shutdown()
            server.server_close()


def start_engine_sandbox(ports: dict[str, int] | None = None) -> EngineSandbox:
    """Serve every engine site on 127.0.0.1 in daemon threads; port 0 picks a free port."""
    ports = ports or {}
    posts = load_posts("forum")
    servers, sites = {}, {}
    try:
        for name in ENGINE_SITES:
            site = EngineSite(name, posts)
            handler = type(f"{name.title()}Handler", (_Handler,), {"site": site})
            server = SandboxServer(("127.0.0.1", ports.get(name, 0)), handler)
            threading.Thread(target=server.serve_forever, name=f"sandbox-{name}",
                             daemon=True).start()
            servers[name], sites[name] = server, site
    except OSError:
        EngineSandbox(servers, sites).stop()
        raise
    return EngineSandbox(servers, sites)


__all__ = ["DEFAULT_ENGINE_PORTS", "ENGINE_SITES", "ENGINE_START_URLS", "EngineSandbox",
           "start_engine_sandbox"]


if __name__ == "__main__":
    import time

    handle = start_engine_sandbox(dict(DEFAULT_ENGINE_PORTS))
    for engine, kinds in ENGINE_START_URLS.items():
        for kind in kinds:
            print(f"# {engine} ({kind})\nname: sandbox_{engine}_{kind}\nengine: {engine}\n"
                  f"start_urls: [\"{handle.start_url(engine, kind)}\"]\n")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        handle.stop()
