# Tables of Chinese text: ruff counts each CJK character as two columns.
# ruff: noqa: E501
"""A hostile ad site for crawler tests: every way real Chinese ad sites break, on 127.0.0.1.

``/list/1`` and ``/list/2`` link to good posts, each served in a different trap (charset only in
the header, only in ``<meta>``, only in the bytes, contradictory, GB18030, BOM, unclosed markup,
an unclosed ``<title>`` that swallows the page, a layout the source's selectors do not know, a
2.5 MB page, 503 + Retry-After, 429 bursts, a redirect, a transient 500) and to bad URLs that
must each be counted under their reason (``BAD``). ``/calendar/<date>`` is an endless calendar.
``/steady/list/<n>`` is a calm site with slow detail pages, for the crash test.

``GOOD`` holds what each good post must be stored as; ``REPOSTS`` are one ad posted six times with
a different phone, emoji, punctuation and sentence.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from html import escape
from http.server import BaseHTTPRequestHandler
from typing import Any

from crawler.sandbox.server import SandboxServer

_AD = "小学数学一对一辅导，周末上门，提分快，在职老师亲授。"


@dataclass(frozen=True)
class Post:
    title: str
    body: str  # paragraphs separated by blank lines, lines by "\n"
    phone: str
    serve: str = "utf8"  # how the page is encoded and declared (see _render)
    extraction: str = ""  # the fallback that must find its text (Ad.extraction)


GOOD: dict[str, Post] = {
    "/post/header-only": Post("初中物理补习班招生", "初二物理同步辅导，每周六上午。\n小班教学，名额有限。",
                              "13800000101", "gbk-header"),
    "/post/meta-only": Post("高三化学冲刺班", "高考化学一轮复习，专题讲解，押题冲刺。", "13800000102",
                            "gbk-meta"),
    "/post/bytes-only-utf8": Post("英语自然拼读小班", "三年级英语自然拼读，外教授课。", "13800000103",
                                  "utf8-bare"),
    "/post/bytes-only-gb18030": Post("𠮷祥家教中心 初中数学",
                                     "初中数学培优补差，地址在𠮷祥路䶮园小区。\n价格面议。",
                                     "13800000104", "gb18030-bare"),
    "/post/meta-lies": Post("二手钢琴转让", "九成新立式钢琴转让，自提。", "13800000105",
                            "utf8-under-gb2312-meta"),
    "/post/header-lies": Post("晚托班 作业辅导", "放学接孩子，晚托辅导作业，老师讲解难题。", "13800000106",
                              "gbk-under-utf8-header"),
    "/post/header-and-meta-disagree": Post("托管中心招聘数学老师", "招聘小学数学老师，周末兼职。",
                                           "13800000107", "utf8-header-gbk-meta-utf8-bytes"),
    "/post/bom": Post("自习室 学霸陪学", "自习室提供学科老师答疑，初高中均可。", "13800000108",
                      "utf8-bom-gbk-meta"),
    "/post/unclosed-markup": Post("家教上门 语文作文", "第一段 & 更多\n\n第二段\n第三行 加粗斜体",
                                  "13800000109", "unclosed"),
    "/post/big-page": Post("暑假研学营 每天数学课", "暑期研学营，每天上午语文数学课，下午活动。",
                           "13800000110", "big"),
    "/post/retry-after": Post("寒假线上网课", "寒假线上直播课，初中全科。", "13800000111", "503-once"),
    "/post/burst-1": Post("周末奥数思维训练", "奥数思维训练，小学四至六年级。", "13800000112", "429-once"),
    "/post/burst-2": Post("小升初语文冲刺", "小升初语文阅读写作冲刺班。", "13800000113", "429-once"),
    "/post/burst-3": Post("高端家政 辅导功课", "住家保姆，会辅导小学功课。", "13800000114", "429-once"),
    "/post/moved-here": Post("在职老师周末补课", "某中学在职老师周末补课，物理化学。", "13800000115"),
    "/post/flaky": Post("出租教室", "原培训机构场地转让，教室三间。", "13800000116", "500-once"),
    "/post/unclosed-title": Post("初三数学 中考冲刺", "中考数学压轴题专项训练，小班授课。\n周六下午两点开课。",
                                 "13800000117", "unclosed-title", "html.parser"),
    "/post/new-layout": Post("高一英语 周日小班", "高一英语语法精讲，每周日上午。", "13800000118",
                             "new-layout", "page_text"),
}

REPOSTS: dict[str, Post] = {
    f"/post/repost-{n}": Post(title, body, phone)
    for n, (title, body, phone) in enumerate([
        ("初中数学一对一辅导", f"{_AD}\n重点中学老师，小班教学，效果看得见。\n欢迎家长咨询。", "13800000201"),
        ("初中数学一对一辅导", f"{_AD}\n重点中学老师，小班教学，效果看得见。\n欢迎家长咨询。", "13800000202"),
        ("初中数学一对一辅导🔥🔥", f"🔥{_AD}\n重点中学老师，小班教学，效果看得见。👍\n欢迎家长咨询。",
         "13800000201"),
        ("初中数学一对一辅导!!", f"{_AD.replace('，', ',').replace('。', '!')}\n重点中学老师 小班教学 "
                            "效果看得见\n欢迎家长咨询!", "13800000201"),
        ("初中数学一对一辅导", f"{_AD}\n重点中学老师，小班教学，效果看得见。\n寒假班火热报名中，名额有限。",
         "13800000201"),
        ("初中数学一对一辅导", f"{_AD}\n重点中学老师，小班教学，效果看得见。\n欢迎家长咨询。\n另有高中物理，"
         "可试听一次。", "13800000203"),
    ], start=1)
}

# Bad URLs linked from the list pages and the reason each must be counted under.
BAD: dict[str, str] = {
    "/post/missing": "http_404",
    "/post/broken": "http_500",
    "/post/stall": "timeout",
    "/post/loop-a": "redirect_loop",
    "/post/hop/0": "too_many_redirects",
    "/post/huge": "too_big",
    "/post/image": "binary_body",
    "/post/empty": "empty_body",
    "/post/script-only": "js_only",
    "/post/unavailable": "http_503",
    "/post/reset": "connection_lost",
}
SKIPPED: dict[str, str] = {"/private/secret": "robots_txt", "http://offsite.invalid/post/1": "offsite"}

# What /post/script-only shows once its script has run (for render: true).
SCRIPTED = Post("线上一对一 高中数学", "高中数学线上一对一，清北老师直播授课。", "13800000301")

STEADY_POSTS = 36
STEADY_PER_PAGE = 9
STEADY_DELAY = 0.4  # seconds per detail page, so that a crawl can be killed half-way

SOURCE_TEMPLATE = """\
name: {name}
kind: html
start_urls: [{starts}]
allowed_domains: ["127.0.0.1"]
{extra}list:
  links: "a.post::attr(href)"
  next: "a.next::attr(href)"
detail:
  title: "h1.title::text"
  body: "div.desc"
  contact: "div.contact"
"""


def _paragraphs(body: str) -> str:
    return "".join("<p>" + "<br>".join(escape(line) for line in para.split("\n")) + "</p>"
                   for para in body.split("\n\n"))


def _page(post: Post, head: str = "", filler: str = "") -> str:
    return (f"<!DOCTYPE html><html><head>{head}<title>{escape(post.title)} - 本地分类信息</title>"
            f"</head><body>{filler}<h1 class=\"title\">{escape(post.title)}</h1>"
            f"<div class=\"desc\">{_paragraphs(post.body)}</div>"
            f"<div class=\"contact\">电话：<span class=\"phone\">{post.phone}</span></div>"
            "<div class=\"footer\">联系我时，请说是在本站看到的</div></body></html>")


def steady_post(n: int) -> Post:
    subjects = ["数学", "语文", "英语", "物理", "化学", "生物", "历史", "地理", "钢琴", "美术", "篮球", "编程"]
    subject = subjects[n % len(subjects)]
    if n % 9 == 4:  # every ninth post is a repost of post 4 with another phone
        return Post(f"{subjects[4]}辅导 周末小班", f"{subjects[4]}周末小班辅导，每班不超过六人，"
                    "老师认真负责，欢迎试听。\n地址：市中心", f"1380000{4000 + n:04d}")
    return Post(f"第{n}号 {subject}课程 {n * 7 % 13}班",
                f"第{n}号帖子：{subject}课程介绍，编号{n}，上课时间每周{'一二三四五六日'[n % 7]}。"
                f"\n{'适合小学生' if n % 2 else '适合初中生'}，学费{100 + n}元。", f"1380000{5000 + n:04d}")


class _Handler(BaseHTTPRequestHandler):
    site: HostileSite

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        self.site.hits[self.path] += 1
        try:
            self.site.route(self)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def reply(self, status: int, body: bytes, content_type: str = "text/html",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@dataclass
class HostileSite:
    server: SandboxServer | None = None
    hits: Counter = field(default_factory=Counter)
    stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def source(self, name: str, starts: list[str], extra: str = "") -> str:
        """A source config crawling this site from ``starts`` (paths)."""
        quoted = ", ".join(f'"{self.url}{path}"' for path in starts)
        return SOURCE_TEMPLATE.format(name=name, starts=quoted, extra=extra)

    def start(self) -> HostileSite:
        handler = type("HostileHandler", (_Handler,), {"site": self})
        self.server = SandboxServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.server.serve_forever, name="hostile-site", daemon=True).start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    # --- routing ---------------------------------------------------------------------------------
    def route(self, h: _Handler) -> None:
        path = h.path.split("?", 1)[0]
        if path == "/robots.txt":
            return h.reply(200, b"User-agent: *\nDisallow: /private/\n", "text/plain")
        if path.startswith("/list/"):
            return self._list(h, int(path.rsplit("/", 1)[1]))
        if path.startswith("/calendar/"):
            return self._calendar(h, path.rsplit("/", 1)[1])
        if path.startswith("/steady/"):
            return self._steady(h, path)
        if path == "/js/list":
            html = ('<!DOCTYPE html><html><head><meta charset="utf-8"><title>脚本页</title></head><body>'
                    '<ul class="list"><li><a class="post" href="/post/script-only">帖子</a></li></ul>'
                    '</body></html>')
            return h.reply(200, html.encode(), "text/html; charset=utf-8")
        if path in GOOD or path in REPOSTS:
            return self._good(h, path, GOOD.get(path) or REPOSTS[path])
        return self._bad(h, path)

    def _list(self, h: _Handler, number: int) -> None:
        paths = [*GOOD, *REPOSTS]
        paths.remove("/post/moved-here")
        paths.append("/post/moved")  # redirects to /post/moved-here
        half = len(paths) // 2
        if number == 1:
            links = paths[:half] + list(BAD)[:6] + list(SKIPPED)
            nxt = '<a class="next" href="/list/2">下一页</a>'
        elif number == 2:
            links = paths[half:] + list(BAD)[6:]
            nxt = ""
        else:
            return h.reply(404, b"not found")
        rows = "".join(f'<li><a class="post" href="{escape(link)}">帖子</a></li>' for link in links)
        html = (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>第{number}页</title></head>'
                f'<body><ul class="list">{rows}</ul><div class="pager">{nxt}</div></body></html>')
        h.reply(200, html.encode(), "text/html; charset=utf-8")

    def _calendar(self, h: _Handler, day: str) -> None:
        """Every day links to the next, for ever; no day has a post."""
        from datetime import date, timedelta

        try:
            today = date.fromisoformat(day)
        except ValueError:
            return h.reply(404, b"not found")
        tomorrow = today + timedelta(days=1)
        html = (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>活动日历 {today}</title></head>'
                f'<body><h2>{today} 本日无活动</h2><ul class="list"></ul>'
                f'<a class="next" href="/calendar/{tomorrow}">下一天</a></body></html>')
        h.reply(200, html.encode(), "text/html; charset=utf-8")

    def _steady(self, h: _Handler, path: str) -> None:
        pages = -(-STEADY_POSTS // STEADY_PER_PAGE)
        if path.startswith("/steady/list/"):
            number = int(path.rsplit("/", 1)[1])
            first = (number - 1) * STEADY_PER_PAGE + 1
            rows = "".join(f'<li><a class="post" href="/steady/post/{n}">帖子{n}</a></li>'
                           for n in range(first, min(first + STEADY_PER_PAGE, STEADY_POSTS + 1)))
            nxt = f'<a class="next" href="/steady/list/{number + 1}">下一页</a>' if number < pages else ""
            html = (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>列表</title></head><body>'
                    f'<ul class="list">{rows}</ul>{nxt}</body></html>')
            return h.reply(200, html.encode(), "text/html; charset=utf-8")
        number = int(path.rsplit("/", 1)[1])
        if not 1 <= number <= STEADY_POSTS:
            return h.reply(404, b"not found")
        time.sleep(STEADY_DELAY)
        h.reply(200, _page(steady_post(number), '<meta charset="utf-8">').encode(),
                "text/html; charset=utf-8")

    def _good(self, h: _Handler, path: str, post: Post) -> None:
        first = self.hits[h.path] == 1
        serve = post.serve
        if serve == "503-once" and first:
            return h.reply(503, b"busy", headers={"Retry-After": "1"})
        if serve == "429-once" and first:
            return h.reply(429, b"slow down", headers={"Retry-After": "1"})
        if serve == "500-once" and first:
            return h.reply(500, b"oops")
        utf8_meta = '<meta charset="utf-8">'
        gbk_meta = '<meta http-equiv="Content-Type" content="text/html; charset=gbk">'
        if serve == "gbk-header":
            return h.reply(200, _page(post).encode("gbk"), "text/html; charset=gbk")
        if serve == "gbk-meta":
            return h.reply(200, _page(post, gbk_meta).encode("gbk"), "text/html")
        if serve == "utf8-bare":
            return h.reply(200, _page(post).encode(), "text/html")
        if serve == "gb18030-bare":
            return h.reply(200, _page(post).encode("gb18030"), "text/html")
        if serve == "utf8-under-gb2312-meta":
            # 百姓网 through Baidu's cache: gb2312 first, the true utf-8 after the first kilobyte.
            head = ('<meta http-equiv="Content-Type" content="text/html;charset=gb2312">'
                    + "<!-- " + "快照" * 600 + " -->" + utf8_meta)
            return h.reply(200, _page(post, head).encode(), "text/html")
        if serve == "gbk-under-utf8-header":
            return h.reply(200, _page(post).encode("gbk"), "text/html; charset=utf-8")
        if serve == "utf8-header-gbk-meta-utf8-bytes":
            return h.reply(200, _page(post, gbk_meta).encode(), "text/html; charset=utf-8")
        if serve == "utf8-bom-gbk-meta":
            return h.reply(200, b"\xef\xbb\xbf" + _page(post, gbk_meta).encode(), "text/html")
        if serve == "unclosed":
            html = ('<!DOCTYPE html><html><head><meta charset=utf-8><title>家教</title></head><body>'
                    f'<h1 class=title>{post.title}<div class="desc"><p>第一段 & 更多<p>第二段<br>第三行 '
                    '<b>加粗<i>斜体</b></i></div></span>'
                    f'<div class=contact>电话：<span class=phone>{post.phone}</span>')
            return h.reply(200, html.encode(), "text/html; charset=utf-8")
        if serve == "unclosed-title":
            # A template that never closes <title>: lxml, like browsers, reads the rest as title.
            html = (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{escape(post.title)}'
                    f' - 本地分类信息</head><body><h1 class="title">{escape(post.title)}</h1>'
                    f'<div class="desc">{_paragraphs(post.body)}</div>'
                    f'<div class="contact">电话：<span class="phone">{post.phone}</span></div>'
                    '</body></html>')
            return h.reply(200, html.encode(), "text/html; charset=utf-8")
        if serve == "new-layout":
            # A page the source's selectors do not know (h2, article, no class names).
            html = (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{escape(post.title)}'
                    f'</title><style>h2 {{ color: red }}</style></head><body><h2>{escape(post.title)}'
                    f'</h2><article>{_paragraphs(post.body)}<p>电话：{post.phone}</p></article>'
                    '<script>var tracking = 1;</script><noscript>请开启脚本</noscript></body></html>')
            return h.reply(200, html.encode(), "text/html; charset=utf-8")
        if serve == "big":
            filler = "<script>var tracking = '" + "x" * (2_500_000) + "';</script>"
            return h.reply(200, _page(post, utf8_meta, filler).encode(), "text/html; charset=utf-8")
        h.reply(200, _page(post, utf8_meta).encode(), "text/html; charset=utf-8")

    def _bad(self, h: _Handler, path: str) -> None:
        if path == "/post/moved":
            return h.reply(301, b"", headers={"Location": "/post/moved-here"})
        if path == "/post/broken":
            return h.reply(500, b"<h1>Internal Server Error</h1>")
        if path == "/post/stall":
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not self.stopping.is_set():
                time.sleep(0.2)
            return None
        if path == "/post/loop-a":
            return h.reply(302, b"", headers={"Location": "/post/loop-b"})
        if path == "/post/loop-b":
            return h.reply(302, b"", headers={"Location": "/post/loop-a"})
        if path.startswith("/post/hop/"):
            hop = int(path.rsplit("/", 1)[1])
            return h.reply(302, b"", headers={"Location": f"/post/hop/{hop + 1}"})
        if path == "/post/huge":
            # Six megabytes with no Content-Length: the crawler must stop reading by itself.
            h.send_response(200)
            h.send_header("Content-Type", "text/html; charset=utf-8")
            h.end_headers()
            chunk = b"<p>" + "很长的页面".encode() * 20_000 + b"</p>"
            for _ in range(6 * 1024 * 1024 // len(chunk) + 1):
                h.wfile.write(chunk)
            return None
        if path == "/post/image":
            png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64
            return h.reply(200, png, "text/html; charset=utf-8")
        if path == "/post/empty":
            return h.reply(200, b"", "text/html; charset=utf-8")
        if path == "/post/script-only":
            script = ("document.getElementById('app').innerHTML = "
                      f"'<h1 class=\"title\">{SCRIPTED.title}</h1><div class=\"desc\"><p>{SCRIPTED.body}</p>"
                      f"</div><div class=\"contact\">电话：{SCRIPTED.phone}</div>';")
            html = ('<!DOCTYPE html><html><head><meta charset="utf-8"><title></title></head><body>'
                    f'<div id="app"></div><script>{script}</script></body></html>')
            return h.reply(200, html.encode(), "text/html; charset=utf-8")
        if path == "/post/unavailable":
            return h.reply(503, b"maintenance", headers={"Retry-After": "7200"})
        if path == "/post/reset":
            h.send_response(200)
            h.send_header("Content-Type", "text/html; charset=utf-8")
            h.send_header("Content-Length", "50000")
            h.end_headers()
            h.wfile.write(b"<html><body><p>cut short")
            h.wfile.flush()
            h.close_connection = True
            return None
        if path.startswith("/private/"):
            return h.reply(200, _page(Post("不该被抓取", "robots.txt 禁止的页面。", "13800000999")).encode(),
                           "text/html; charset=utf-8")
        return h.reply(404, b"not found")


def expected_text(post: Post) -> str:
    """The body as the crawler stores it (crawler.text keeps paragraphs and line breaks); for a
    page whose text only the page-text fallback finds, the page's whole visible text but its
    ``<title>``."""
    from crawler.text import clean_text

    if post.extraction == "page_text":
        return clean_text(f"{post.title}\n\n{post.body}\n\n电话：{post.phone}")
    return clean_text(post.body)
