"""A sandbox site that blocks crawlers the ways Chinese sites do, for the honest-blocks tests
(``crawler.middlewares.blocks``).

Under ``/{mode}/`` a list page ``list.html`` links to five posts ``post/{id}.html`` of the
classified sandbox's posts. The first post of every mode is an ordinary ad page; the others
answer, by mode:

============  =====================================================================================
``slider``    200, a slider challenge (阿里云-style "请按住滑块，拖动到最右边")
``captcha``   200, an image captcha ("访问过于频繁，本次访问需要输入验证码", 58同城-style)
``login``     302 to ``/passport/login?redirect=…``, a login form
``wall``      200, a Discuz "提示信息" page: "您需要先登录才能继续本操作"
``rate``      429, "访问过于频繁，请稍后再试" (with a Retry-After the retries would honour)
``verify``    403, "百度安全验证"-style "请完成下方验证后继续操作"
``busy``      503, "请求过于频繁"
``ok``        every post an ordinary page, each with what ordinary pages carry that must not read
              as a block: a sidebar login box with a 验证码 field, "登录后查看电话", and one ad
              that talks about 验证码 in its text
============  =====================================================================================

``python -m crawler.sandbox.blocking`` serves it in the foreground on port 8720.
"""

from __future__ import annotations

from html import escape
from typing import Any

from crawler.sandbox.routed import Reply, Routed, html, not_found, serve
from crawler.sandbox.server import load_posts

MODES = ("slider", "captcha", "login", "wall", "rate", "verify", "busy", "ok")
DEFAULT_PORT = 8720
POSTS_PER_LIST = 5

CHALLENGES = {
    "slider": (200, "验证", '<div id="nc_1_wrapper" class="nc_wrapper"><div id="nc_1__scale_text" '
               'class="nc-lang-cnt">请按住滑块，拖动到最右边</div><span id="nc_1_n1z" '
               'class="nc_iconfont btn_slide">&gt;</span></div><p class="tip">为保障您的正常访问，'
               '请进行滑块验证</p>'),
    "captcha": (200, "请输入验证码", '<div class="verify"><p>访问过于频繁，本次访问需要输入验证码'
                '</p><img src="/captcha.jpg" alt="验证码"><input name="code">'
                '<button>提交</button></div>'),
    "wall": (200, "提示信息 - 县城论坛", '<div id="messagetext" class="alert_info"><p>您需要先登录'
             '才能继续本操作</p></div><div id="messagelogin"><form><input name="username">'
             '<input type="password" name="password"><button>登录</button></form></div>'),
    "rate": (429, "Too Many Requests", "<h1>访问过于频繁，请稍后再试</h1>"),
    "verify": (403, "百度安全验证", '<div class="timeout-title">网络不给力，请稍后重试</div><div '
               'class="vcode-body">请完成下方验证后继续操作</div><div class="vcode-slide">'
               '</div>'),
    "busy": (503, "503", "<p>请求过于频繁，请稍后再访问。</p>"),
}
SIDEBAR = ('<div class="sidebar"><form class="login-box"><input name="user" placeholder="手机号">'
           '<input name="code" placeholder="短信验证码"><button>获取验证码</button>'
           '<button>登录</button></form><p>热门：家教 托管 钢琴</p></div>')
CAPTCHA_AD = ("另：本店代收各类验证码短信卡，办卡不需要登录验证码，安全验证一次通过，"
              "访问过于频繁的号码也能处理。")


def _page(title: str, content: str) -> str:
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'</head><body><div class="nav">首页 &gt; 教育培训</div>{content}'
            f'<div class="footer">本站信息由用户发布，交易前请核实</div></body></html>')


def _ad(post: dict[str, Any], mode: str, first: bool) -> str:
    body = "".join(f"<p>{escape(p)}</p>" for p in post["body"].split("\n") if p.strip())
    if mode == "ok" and first:
        body += f"<p>{CAPTCHA_AD}</p>"
    content = (f'<h1 class="title">{escape(post["title"])}</h1><div class="desc">{body}</div>'
               f'<div class="contact">电话：<span class="phone">{escape(post["phone"][:3])}'
               f'********</span> <a href="/passport/login">登录后查看完整电话</a></div>{SIDEBAR}')
    return _page(post["title"], content)


def route_for(posts: list[dict[str, Any]]):
    shown = posts[:POSTS_PER_LIST]

    def route(path: str, query: dict[str, list[str]]) -> Reply:
        if path == "/robots.txt":
            return 200, {"Content-Type": "text/plain"}, b"User-agent: *\nAllow: /\n"
        if path == "/passport/login":
            return html(_page("用户登录", '<form class="login"><input name="user"><input '
                              'type="password" name="pwd"><button>登录</button></form>'))
        mode, _, rest = path.strip("/").partition("/")
        if mode not in MODES:
            return not_found()
        if rest == "list.html":
            rows = "".join(f'<li><a class="t" href="/{mode}/post/{p["id"]}.html">'
                           f'{escape(p["title"])}</a></li>' for p in shown)
            return html(_page("教育培训 - 列表", f'<ul class="list">{rows}</ul>{SIDEBAR}'))
        post = next((p for p in shown if rest == f'post/{p["id"]}.html'), None)
        if post is None:
            return not_found()
        first = post is shown[0]
        if mode == "ok" or first:
            return html(_ad(post, mode, first))
        if mode == "login":
            return 302, {"Location": f"/passport/login?redirect=/{mode}/{rest}"}, b""
        status, title, content = CHALLENGES[mode]
        headers = {"Retry-After": "1"} if status in (429, 503) else {}
        return html(_page(title, content), status, **headers)

    return route


def start_blocking_site(port: int = 0) -> Routed:
    return serve(route_for(load_posts("classified")), port)


def source_yaml(name: str, base: str, mode: str) -> str:
    """A source crawling ``mode``'s list page."""
    return (f"name: {name}\nkind: html\nstart_urls: [\"{base}/{mode}/list.html\"]\n"
            "list:\n  links: \"ul.list a.t::attr(href)\"\ndetail:\n  title: \"h1.title\"\n"
            "  body: \"div.desc\"\n  contact: \"div.contact\"\n")


if __name__ == "__main__":
    import time

    handle = start_blocking_site(DEFAULT_PORT)
    for mode in MODES:
        print(f"{mode}: {handle.url}/{mode}/list.html")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        handle.stop()
