"""A large Discuz! 7-style forum in GBK, for the crawl benchmark (``benchmarks/crawl.py --site
discuz``): the shape of the old Chinese boards that tutoring ads are posted on.

``threads`` thread pages, ``per_list`` to a list page: list pages
``/forumdisplay.php?fid=2&page=N`` (thread rows in ``<tbody id="normalthread_N">``, paged by an
``a.next`` link) and thread pages in both of Discuz's URL forms, ``/viewthread.php?tid=N`` (even
ids) and the rewritten ``/thread-N-1-1.html`` (odd ids). Every page is encoded in GBK and says so
only in a ``<meta http-equiv>`` (the Content-Type header is a bare ``text/html``), and carries
what a real board carries around the post: a header with navigation and inline scripts, the
table layout of the posts (``td.t_msgfont`` with ``id="postmessage_N"``), a few replies, the
author's side panel and a footer, about 20 KB a thread page. The texts are the sandbox posts,
cycled and numbered so that every thread is different.

    python -m crawler.sandbox.discuz --threads 1500 [--per-list 30] [--port 0]   # foreground
"""

from __future__ import annotations

import argparse
import itertools
import math
import time
from dataclasses import dataclass
from html import escape
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from crawler.sandbox.server import SiteHandle, load_posts, serve_site

SOURCE_TEMPLATE = """\
name: {name}
kind: html
source_type: forum
start_urls: ["{base}/forumdisplay.php?fid=2&page=1"]
max_pages: {max_pages}
{extra}list:
  links: "tbody[id^=normalthread_] span[id^=thread_] a::attr(href)"
  next: "div.pages a.next::attr(href)"
detail:
  title: "#threadtitle h1::text"
  body: "xpath:(//div[starts-with(@id, 'postmessage_')])[1]"
  posted_at: "xpath:(//em[starts-with(@id, 'authorposton')])[1]/text()"
"""


def source_yaml(name: str, base_url: str, lists: int = 1000, extra: str = "") -> str:
    """A source config for a Discuz site at ``base_url`` with ``lists`` list pages or fewer."""
    return SOURCE_TEMPLATE.format(name=name, base=base_url.rstrip("/"), max_pages=lists,
                                  extra=extra)


_HEAD = """<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" \
"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=gbk" />
<title>{title} - 家长交流 - 星城家长论坛 -  Powered by Discuz!</title>
<meta name="keywords" content="{title}" />
<meta name="description" content="{title} 星城家长论坛 家长交流 " />
<meta name="generator" content="Discuz! 7.2" />
<meta name="author" content="Discuz! Team and Comsenz UI Team" />
<meta name="copyright" content="2001-2009 Comsenz Inc." />
<meta name="MSSmartTagsPreventParsing" content="True" />
<meta http-equiv="MSThemeCompatible" content="Yes" />
<link rel="archives" title="星城家长论坛" href="archiver/" />
<link rel="stylesheet" type="text/css" href="forumdata/cache/style_1_common.css?Bq0" />
<link rel="stylesheet" type="text/css" href="forumdata/cache/scriptstyle_1_viewthread.css?Bq0" />
<script type="text/javascript">var STYLEID = '1', IMGDIR = 'images/default', VERHASH = 'Bq0', \
charset = 'gbk', discuz_uid = 0, cookiedomain = '', cookiepath = '/', attackevasive = '0', \
disallowfloat = 'newthread|reply', creditnotice = '1|威望|,2|金钱|,3|贡献|', gid = parseInt('1'), \
fid = parseInt('2'), tid = parseInt('{tid}')</script>
<script src="forumdata/cache/common.js?Bq0" type="text/javascript"></script>
<script type="text/javascript">
function showMenuEx(ctrlid) {{ var menu = $(ctrlid + '_menu'); if(!menu) return; \
menu.style.display = menu.style.display == 'none' ? '' : 'none'; }}
var lang = {{'post_reply': '回复', 'post_quote': '引用', 'favorite': '收藏', \
'copy_url': '复制帖子地址', 'report': '举报', 'rate': '评分'}};
</script>
</head>
<body id="{body_id}" onkeydown="if(event.keyCode==27) return false;">
<div id="append_parent"></div><div id="ajaxwaitid"></div>
<div id="header">
<div class="wrap s_clear">
<h2><a href="index.php" title="星城家长论坛"><img src="images/default/logo.gif" alt="星城家长论坛" \
border="0" /></a></h2>
<div id="umenu">
<a href="logging.php?action=login" onclick="showWindow('login', this.href);return false;">登录</a>
<a href="register.php" class="noborder">注册</a>
</div>
<div id="ad_headerbanner"></div>
<div id="menu">
<ul>
<li class="menu_1"><a href="index.php" hidefocus="true" id="mn_index">论坛</a></li>
<li class="menu_2"><a href="search.php" hidefocus="true" id="mn_search">搜索</a></li>
<li class="menu_4"><a href="faq.php" hidefocus="true" id="mn_faq">帮助</a></li>
<li class="menu_5"><a href="misc.php?action=nav" hidefocus="true" onclick="showWindow('nav', \
this.href);return false;">导航</a></li>
<li class="menu_6"><a href="tag.php" hidefocus="true" id="mn_tag">标签</a></li>
<li class="menu_7"><a href="stats.php" hidefocus="true" id="mn_stats">统计</a></li>
</ul>
<script type="text/javascript">var currentMenu = $('mn_') ? $('mn_') : $('mn_index');\
currentMenu.parentNode.className = 'current';</script>
</div>
</div>
<div id="myprompt_menu" style="display:none" class="promptmenu">
<div class="promptcontent"><ul class="s_clear"><li style="display:none"><a id="prompt_pm" \
href="pm.php?filter=newpm" target="_blank">私人消息 (0)</a></li>
<li style="display:none"><a id="prompt_announcepm" href="pm.php?filter=announcepm" \
target="_blank">公共消息 (0)</a></li></ul></div>
</div>
</div>
<div id="nav"><a href="index.php" id="fjump" onclick="showMenu({{'ctrlid':this.id}})" \
class="dropmenu">星城家长论坛</a> &raquo; <a href="forumdisplay.php?fid=2">家长交流</a>{crumb}</div>
<div id="ad_text"></div>
<div id="wrap" class="wrap s_clear threadfix">
"""

_FOOT = """</div>
<div id="ad_footerbanner1"></div><div id="ad_footerbanner2"></div>
<div id="footer">
<div class="wrap s_clear">
<div id="footlinks">
<p><a href="mailto:admin@example.invalid">联系我们</a> - <a href="archiver/" target="_blank">\
Archiver</a> - <a href="wap/" target="_blank">WAP</a> - <a href="#" onclick="window.scrollTo(0,0);\
return false;">TOP</a></p>
<p class="smalltext">GMT+8, 2026-11-20 10:21, <span id="debuginfo">Processed in 0.031250 \
second(s), 6 queries, Gzip enabled</span>.</p>
</div>
<a title="Powered by Discuz!" target="_blank" href="http://www.discuz.net"><img \
src="images/default/discuz_powered.gif" border="0" alt="Discuz!" /></a>
<p id="copyright">Powered by <strong><a href="http://www.discuz.net" target="_blank">Discuz!</a>\
</strong> <em>7.2</em><br />&copy; 2001-2009 <a href="http://www.comsenz.com" target="_blank">\
Comsenz Inc.</a></p>
<p id="debuginfo">湘ICP备00000000号</p>
</div>
</div>
<script type="text/javascript">
var _bdhmProtocol = (("https:" == document.location.protocol) ? " https://" : " http://");
document.write(unescape("%3Cscript src='" + _bdhmProtocol + "hm.example.invalid/h.js' \
type='text/javascript'%3E%3C/script%3E"));
function copyThreadUrl(obj) {{ setCopy(obj.innerHTML + '\\n' + location.href, \
'帖子地址已经复制到剪贴板'); }}
</script>
</body>
</html>
"""

_REPLIES = ("顶一下，同问。", "楼主可以私信我，我家孩子在那边补过。", "路过，帮顶。",
            "现在查得严，还是找正规机构吧。", "mark一下，坐等推荐。")
_NAMES = ("清风徐来", "湘江边的妈妈", "老王头", "学而时习之", "小虎妈", "麓山脚下", "一只大橙子")


def _side(author: str, uid: int) -> str:
    return (f'<td class="postauthor" rowspan="2"><div class="postinfo"><a target="_blank" '
            f'href="space.php?uid={uid}" style="margin-left: 20px; font-weight: 800">'
            f'{escape(author)}</a></div><div class="popupmenu_popup userinfopanel" '
            f'id="userinfo{uid}" style="display: none; position: absolute;">'
            f'<div class="popavatar"><div id="userinfo{uid}_ma"></div><ul class="profile_side">'
            f'<li class="pm"><a href="pm.php?action=new&amp;uid={uid}" target="_blank">发短消息</a>'
            f'</li><li class="buddy"><a href="my.php?item=buddylist&amp;newbuddyid={uid}'
            f'&amp;buddysubmit=yes" target="_blank">加为好友</a></li></ul></div>'
            f'<div class="popuserinfo"><p><a href="space.php?uid={uid}" target="_blank">'
            f'{escape(author)}</a> <em>当前离线</em></p></div></div>'
            f'<div><div class="avatar"><a href="space.php?uid={uid}" target="_blank">'
            f'<img src="uc_server/avatar.php?uid={uid}&amp;size=middle" /></a></div>'
            f'<p><em><a href="faq.php?action=grouppermission&amp;searchgroupid=10">新手上路</a>'
            f'</em></p></div><dl class="profile s_clear"><dt>UID</dt><dd>{uid}&nbsp;</dd>'
            f'<dt>帖子</dt><dd>{uid % 97 + 3}&nbsp;</dd><dt>积分</dt><dd>{uid % 311}&nbsp;</dd>'
            f'<dt>阅读权限</dt><dd>10&nbsp;</dd><dt>注册时间</dt><dd>2025-3-{uid % 28 + 1}'
            f'&nbsp;</dd></dl></td>')


def _post(pid: int, tid: int, floor: int, author: str, uid: int, posted: str,
          message: str) -> str:
    return (f'<div id="post_{pid}"><table id="pid{pid}" summary="pid{pid}" cellspacing="0" '
            f'cellpadding="0"><tr>{_side(author, uid)}<td class="postcontent">'
            f'<div id="threadstamp"></div><div class="postinfo"><strong><a title="复制本帖链接" '
            f'id="postnum{pid}" href="javascript:;" onclick="copyThreadUrl(this)">'
            f'<em>{floor}</em><sup>#</sup></a></strong><div class="posterinfo">'
            f'<div class="pagecontrol"><a href="viewthread.php?tid={tid}&amp;page=1&amp;'
            f'authorid={uid}" rel="nofollow">只看该作者</a></div><div class="authorinfo">'
            f'<img class="authicon" id="authicon{pid}" src="images/common/online_member.gif" />'
            f'<em id="authorposton{pid}">发表于 {posted}</em></div></div></div>'
            f'<div class="defaultpost"><div id="ad_thread2_{floor - 1}"></div>'
            f'<div id="ad_thread3_{floor - 1}"></div><div id="ad_thread4_{floor - 1}"></div>'
            f'<div class="postmessage firstpost"><div class="t_msgfontfix"><table cellspacing="0" '
            f'cellpadding="0"><tr><td><div class="t_msgfont" id="postmessage_{pid}">{message}'
            f'</div></td></tr></table></div><div id="post_rate_div_{pid}"></div></div></div>'
            f'</td></tr><tr><td class="postcontent postbottom"><div class="postactions">'
            f'<div class="p_opt"><a href="post.php?action=reply&amp;fid=2&amp;tid={tid}&amp;'
            f'repquote={pid}" onclick="showWindow(\'reply\', this.href);return false;">引用</a>'
            f'<a href="misc.php?action=report&amp;fid=2&amp;tid={tid}&amp;pid={pid}" '
            f'onclick="showWindow(\'report\', this.href);return false;">举报</a></div>'
            f'<div class="postcontent"><a href="javascript:;" onclick="scrollTo(0,0);">TOP</a>'
            f'</div></div></td></tr></table></div>')


@dataclass
class DiscuzSite:
    threads: int = 1500
    per_list: int = 30

    def __post_init__(self) -> None:
        self.lists = max(1, math.ceil(self.threads / self.per_list))
        posts = load_posts("classified") + load_posts("forum")
        self._texts = [(p["title"], p["body"]) for p in posts]

    @property
    def pages(self) -> int:
        return self.lists + self.threads

    def thread_text(self, tid: int) -> tuple[str, str]:
        title, body = self._texts[(tid - 1) % len(self._texts)]
        return f"{title}（{tid}号）", f"{body}\n编号 {tid}"

    @staticmethod
    def thread_href(tid: int) -> str:
        return (f"viewthread.php?tid={tid}&amp;extra=page%3D1" if tid % 2 == 0
                else f"thread-{tid}-1-1.html")

    def list_page(self, number: int) -> str:
        first = (number - 1) * self.per_list + 1
        rows = []
        for tid in range(first, min(first + self.per_list, self.threads + 1)):
            title = escape(self.thread_text(tid)[0])
            author = _NAMES[tid % len(_NAMES)]
            rows.append(
                f'<tbody id="normalthread_{tid}"><tr><td class="folder"><a href="viewthread.php?'
                f'tid={tid}&amp;extra=page%3D{number}" title="新窗口打开" target="_blank">'
                f'<img src="images/default/folder_common.gif" /></a></td><td class="icon">&nbsp;'
                f'</td><th class="subject common"><label>&nbsp;</label>'
                f'<span id="thread_{tid}"><a href="{self.thread_href(tid)}">{title}</a></span>'
                f'</th><td class="author"><cite><a href="space.php?uid={1000 + tid % 500}">'
                f'{author}</a></cite><em>2026-11-{tid % 28 + 1}</em></td><td class="nums">'
                f'<strong>{tid % 7}</strong>/<em>{tid % 300 + 10}</em></td><td class="lastpost">'
                f'<cite><a href="space.php?username=x">{author}</a></cite><em><a href="redirect.'
                f'php?tid={tid}&amp;goto=lastpost#lastpost">2026-11-20 09:{tid % 60:02d}</a></em>'
                f'</td></tr></tbody>')
        pages = "".join(f'<a href="forumdisplay.php?fid=2&amp;page={n}">{n}</a>'
                        for n in range(max(1, number - 4), min(self.lists, number + 5) + 1))
        nxt = (f'<a href="forumdisplay.php?fid=2&amp;page={number + 1}" class="next">下一页</a>'
               if number < self.lists else "")
        return (_HEAD.format(title="家长交流", tid=0, body_id="forumdisplay", crumb="")
                + f'<div id="forumheader" class="s_clear"><h1 style="">家长交流</h1>'
                f'<p class="forumstats">[ <strong>{self.threads}</strong> 主题 / '
                f'{self.threads * 4} 回复 ]</p></div>'
                f'<div class="pages_btns s_clear"><div class="pages">{pages}{nxt}</div></div>'
                f'<div id="threadlist" class="threadlist datalist" style="position: relative;">'
                f'<form method="post" name="moderate" id="moderate" action="topicadmin.php?'
                f'action=moderate&amp;fid=2&amp;infloat=yes&amp;nopost=yes">'
                f'<table summary="forum_2" cellspacing="0" cellpadding="0" class="datatable">'
                f'<thead class="category"><tr><td class="folder">&nbsp;</td><td class="icon">'
                f'&nbsp;</td><th>标题</th><td class="author">作者</td><td class="nums">回复/查看'
                f'</td><td class="lastpost">最后发表</td></tr></thead>{"".join(rows)}</table>'
                f'</form></div><div class="pages_btns s_clear"><div class="pages">{pages}{nxt}'
                f'</div></div>' + _FOOT.format())

    def thread_page(self, tid: int) -> str:
        title, body = self.thread_text(tid)
        message = "<br />\r\n".join(escape(line) for line in body.split("\n"))
        author = _NAMES[tid % len(_NAMES)]
        day = f"2026-11-{tid % 28 + 1} 10:{tid % 60:02d}"
        posts = [_post(tid * 10, tid, 1, author, 1000 + tid % 500, day,
                       f'<font size="3">{message}</font>')]
        for floor in range(2, 6):
            reply = _REPLIES[(tid + floor) % len(_REPLIES)]
            posts.append(_post(tid * 10 + floor, tid, floor, _NAMES[(tid + floor) % len(_NAMES)],
                               2000 + (tid + floor) % 700, f"2026-11-{tid % 28 + 1} 1{floor}:05",
                               escape(reply)))
        return (_HEAD.format(title=escape(title), tid=tid, body_id="viewthread",
                             crumb=f" &raquo; {escape(title)}")
                + f'<div id="postlist" class="mainbox viewthread"><div id="threadtitle">'
                f'<h1>{escape(title)}</h1></div>{"".join(posts)}</div>'
                + _FOOT.format())

    def route(self, path: str, query: dict[str, list[str]]) -> tuple[int, bytes]:
        if path == "/robots.txt":
            return 200, b"User-agent: *\nDisallow: /admin.php\nDisallow: /api/\n"
        try:
            if path == "/forumdisplay.php":
                number = int(query.get("page", ["1"])[0])
                if 1 <= number <= self.lists:
                    return 200, _gbk(self.list_page(number))
            elif path == "/viewthread.php":
                tid = int(query.get("tid", ["0"])[0])
                if 1 <= tid <= self.threads:
                    return 200, _gbk(self.thread_page(tid))
            elif path.startswith("/thread-") and path.endswith("-1-1.html"):
                tid = int(path[len("/thread-"):-len("-1-1.html")])
                if 1 <= tid <= self.threads:
                    return 200, _gbk(self.thread_page(tid))
        except ValueError:
            pass
        return 404, _gbk("<html><body>指定的主题不存在或已被删除</body></html>")


def _gbk(html: str) -> bytes:
    return html.encode("gbk", errors="xmlcharrefreplace")


class _Handler(BaseHTTPRequestHandler):
    site: DiscuzSite
    disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms stalls

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        parts = urlsplit(self.path)
        status, body = self.site.route(parts.path, parse_qs(parts.query))
        self.send_response(status)
        # No charset here: the pages say GBK only in their <meta>, as old boards do.
        self.send_header("Content-Type", "text/plain" if parts.path == "/robots.txt"
                         else "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def handle(self) -> None:
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            pass


DiscuzHandle = SiteHandle


def start_discuz_site(site: DiscuzSite | None = None, port: int = 0) -> SiteHandle:
    """Serve ``site`` on 127.0.0.1 in a daemon thread; port 0 picks a free port."""
    return serve_site(site or DiscuzSite(), _Handler, "sandbox-discuz", port)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1500)
    parser.add_argument("--per-list", type=int, default=30, help="threads per list page")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    handle = start_discuz_site(DiscuzSite(threads=args.threads, per_list=args.per_list),
                               args.port)
    print(handle.url, flush=True)
    try:
        for _ in itertools.count():
            time.sleep(3600)
    except KeyboardInterrupt:
        handle.stop()


if __name__ == "__main__":
    main()
