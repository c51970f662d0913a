"""Name why a URL yielded no ad, for the crawl stats and the crawl summary.

Every URL a spider gives up on is counted once, after retries, as ``tutorwatch/failed/<reason>``;
URLs that are deliberately not fetched are ``tutorwatch/skipped/<reason>``. Reasons:

============================ =================================================================
``http_<code>``              the server answered an error status (``http_404``, ``http_500`` …)
``timeout``                  no complete answer within ``DOWNLOAD_TIMEOUT``
``dns``                      the host name does not resolve
``connection_refused``       nothing listens there
``connection_lost``          the connection broke before a whole response arrived
``too_big``                  the body exceeds ``DOWNLOAD_MAXSIZE``
``redirect_loop``            a redirect chain came back to a URL it had visited
``too_many_redirects``       more than ``REDIRECT_MAX_TIMES`` redirects
``blocked_network``          the URL, or a redirect from it, leads to a loopback, private,
                             link-local or reserved address outside
                             ``TUTORWATCH_ALLOW_NETWORKS``, or is not http(s): never fetched
``offsite_redirect``         a redirect (or the browser rendering the page) left the source's
                             ``allowed_domains``: the redirect is not followed
``binary_body``              an image, archive or other binary file, whatever its Content-Type
``empty_body``               a 200 with no body at all
``js_only``                  a page whose body has scripts but no text (see ``render: true``)
``not_json``                 a ``kind: json`` source answered something that is not JSON
``blocked``                  the site answered with a challenge instead of the page: a captcha,
                             a slider, a login wall, a "访问过于频繁" page, or a redirect to a
                             login or verify URL (:func:`block_sign`); the crawl stops there and
                             the source backs off, nothing tries to get past it
``error_<name>``             anything else, by exception class
skipped ``robots_txt``       robots.txt forbids the URL
skipped ``offsite``          the URL is outside the source's ``allowed_domains``
============================ =================================================================

Plain functions, no Scrapy imports at module level.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from lxml import etree

_OTHER = re.compile(r"[^a-z0-9_]+")


def failure_reason(exception: BaseException) -> tuple[str, str]:
    """``(tally, reason)`` for a request's failure: the tally it is counted under,
    ``failed`` or ``skipped``, and why."""
    from scrapy.exceptions import IgnoreRequest
    from scrapy.spidermiddlewares.httperror import HttpError
    from twisted.internet import defer, error
    from twisted.web._newclient import ResponseFailed, ResponseNeverReceived

    from crawler.middlewares.blocks import SiteBlocking
    from crawler.middlewares.network_guard import BlockedRequest
    from crawler.middlewares.redirect import RedirectLoop, TooManyRedirects

    if isinstance(exception, SiteBlocking):
        return "failed", "blocked"
    if isinstance(exception, BlockedRequest):
        # A request that was never inside the source's domains is skipped, as Scrapy's own
        # offsite filter would skip it; one that a redirect took elsewhere failed.
        return ("skipped" if exception.reason == "offsite" else "failed"), exception.reason
    if isinstance(exception, HttpError):
        return "failed", f"http_{exception.response.status}"
    if isinstance(exception, RedirectLoop):
        return "failed", "redirect_loop"
    if isinstance(exception, TooManyRedirects):
        return "failed", "too_many_redirects"
    if isinstance(exception, IgnoreRequest):
        text = str(exception).lower()
        if "robots.txt" in text:
            return "skipped", "robots_txt"
        if "maxsize" in text or "max size" in text:
            return "failed", "too_big"
        return "skipped", "offsite" if "offsite" in text or not text else "ignored"
    if isinstance(exception, (defer.TimeoutError, error.TimeoutError, error.TCPTimedOutError)):
        return "failed", "timeout"
    if isinstance(exception, defer.CancelledError):
        # Scrapy cancels a download whose body grows past DOWNLOAD_MAXSIZE.
        return "failed", "too_big"
    if isinstance(exception, error.DNSLookupError):
        return "failed", "dns"
    if isinstance(exception, error.ConnectionRefusedError):
        return "failed", "connection_refused"
    if isinstance(exception, (error.ConnectionLost, error.ConnectionDone, error.ConnectError,
                              ResponseFailed, ResponseNeverReceived)):
        return "failed", "connection_lost"
    return "failed", "error_" + _OTHER.sub("_", type(exception).__name__.lower()).strip("_")


def page_is_script_only(response: Any) -> bool:
    """Whether an HTML page's ``<body>`` has scripts but (almost) no text: it needs JavaScript."""
    if not response.xpath("//script"):
        return False
    words = response.xpath(
        "//body//text()[not(ancestor::script) and not(ancestor::style) and not(ancestor::noscript)"
        " and not(ancestor::template)]"
    ).getall()
    return len("".join(words).strip()) < 20


# What a site's challenge pages say, by the kind of block (the common Chinese wordings).
BLOCK_PATTERNS = {
    "slider": re.compile(r"滑块验证|拖动滑块|拖动下方滑块|按住滑块|向右滑动|滑动验证|"
                         r"拖动.{0,6}完成.{0,4}验证"),
    "captcha": re.compile(r"验证码|人机验证|图形验证|点选验证|captcha", re.IGNORECASE),
    "rate_limit": re.compile(r"(?:访问|请求|操作)(?:过于|太|过度)频繁|访问频率过高|访问过快|"
                             r"请求次数过多|频繁访问"),
    "login": re.compile(r"请?(?:先)?登录后(?:再)?(?:查看|可见|访问|浏览|继续)|登录后才能|"
                        r"需要(?:先)?登录|请先登录|您还没有登录|登录可见"),
    "verify": re.compile(r"安全验证|安全检查|请完成验证|身份验证|访问验证|异常访问|访问异常|"
                         r"环境异常|存在异常"),
}
# A redirect that lands on one of these is a login wall or a challenge, whatever the page says:
# a path segment (``/passport/login``, ``/login.php``, ``/antispider/``) or a query naming one
# (Discuz's ``member.php?mod=logging&action=login``).
BLOCK_URL_WORDS = frozenset({
    "login", "logon", "signin", "sign-in", "sign_in", "passport", "captcha", "verify",
    "verification", "challenge", "antispider", "anti-spider", "security-check", "validate",
})
BLOCK_URL_QUERY = re.compile(r"(?:^|&)(?:mod=logging|action=login|action=verify)(?:&|$)",
                             re.IGNORECASE)
BLOCK_STATUSES = frozenset({401, 403, 405, 412, 418, 429, 503})
# A page whose text besides the challenge's words is this long or longer is a page, not a
# challenge: an ad that says "登录后查看电话" or talks about 验证码 has its own text around it.
CHALLENGE_OTHER_TEXT_MAX = 80
_NOT_TEXT = re.compile(r"[\s\W_]+")
# Text a challenge page is judged on: not the page's forms, buttons and links (a login box in
# the sidebar, "登录后查看完整电话" as a link are on ordinary pages too).
VISIBLE_TEXT = ("//body//text()[not(ancestor::script) and not(ancestor::style)"
                " and not(ancestor::noscript) and not(ancestor::form) and not(ancestor::button)"
                " and not(ancestor::a) and not(ancestor::label) and not(ancestor::select)"
                " and not(ancestor::textarea)]")


_TITLE_TEXT = etree.XPath("//title//text()")
_VISIBLE_TEXT = etree.XPath(VISIBLE_TEXT)
_BODY = etree.XPath("//body")
# A piece of each alternative of BLOCK_PATTERNS that has no wildcard in it: block_sign can find
# a challenge's words in a page only if the page's text holds one of these. A text node is a
# stretch of the decoded page, so the words are in ``response.text`` as they are, unless a
# character reference (``&#39564;``) or a NUL (dropped before parsing) stood between them.
_BLOCK_WORD_PIECES = ("滑块", "滑动", "拖动", "验证", "频繁", "频率过高", "访问过快",
                      "次数过多", "登录后", "登录可见", "要登录", "先登录", "有登录",
                      "安全检查", "异常", "&#", "\x00")
_CAPTCHA = re.compile("captcha", re.IGNORECASE)


def _may_hold_block_words(text: str) -> bool:
    # Plain substring tests: far quicker on a page than one regex of alternatives.
    return any(piece in text for piece in _BLOCK_WORD_PIECES) or \
        _CAPTCHA.search(text) is not None


def block_sign(status: int, url: str, redirected: bool, title: str, text: str) -> str | None:
    """The kind of block (``slider``, ``captcha``, ``rate_limit``, ``login``, ``verify``) a
    response shows, or None for an ordinary page.

    A response is a block when (1) a redirect took it to a login or verify URL; (2) an error
    status (403, 429, 503 …) came with a challenge's words in its title or text; or (3) a page
    whose title or text has a challenge's words says little else (at most
    ``CHALLENGE_OTHER_TEXT_MAX`` letters and digits besides them): a challenge is a short page,
    an ad that mentions 验证码 or 登录后查看 has its own text around the words. ``text`` is
    the page's visible text without its forms, buttons and links (``VISIBLE_TEXT``)."""
    if redirected and (kind := _block_url(url)):
        return kind
    found = [kind for kind, pattern in BLOCK_PATTERNS.items()
             if pattern.search(title) or pattern.search(text)]
    if not found:
        return None
    if status in BLOCK_STATUSES:
        return found[0]
    other = text
    for pattern in BLOCK_PATTERNS.values():
        other = pattern.sub("", other)
    return found[0] if len(_NOT_TEXT.sub("", other)) <= CHALLENGE_OTHER_TEXT_MAX else None


def _block_url(url: str) -> str | None:
    """``login`` or ``verify`` when ``url`` is a login or challenge address."""
    parts = urlsplit(url)
    stems = {segment.lower().split(".", 1)[0] for segment in parts.path.split("/") if segment}
    words = stems & BLOCK_URL_WORDS
    if not words and not BLOCK_URL_QUERY.search(parts.query):
        return None
    login = {"login", "logon", "signin", "sign-in", "sign_in", "passport"}
    return "login" if words & login or "log" in parts.query.lower() else "verify"


def response_block_sign(response: Any, request: Any = None) -> str | None:
    """:func:`block_sign` of a Scrapy response: its visible text if it is HTML or other text
    (JSON APIs answer a challenge in their message field), nothing read from binary bodies.
    ``request`` is the one that got it (a downloader middleware has it before the response
    does), whose ``redirect_urls`` tell a redirect."""
    from scrapy.http import HtmlResponse, TextResponse

    request = request if request is not None else _request_of(response)
    redirected = bool(request is not None and request.meta.get("redirect_urls"))
    title, text = "", ""
    if isinstance(response, TextResponse) and not (redirected and _block_url(response.url)) \
            and not _may_hold_block_words(response.text):
        return None  # what block_sign would say, without walking the page's text nodes
    if isinstance(response, HtmlResponse):
        # On the parsed tree itself: a parsel Selector for each of a page's text nodes costs
        # more than the XPath. The same strings (a text node's Selector gives back its string).
        root = response.selector.root
        title = " ".join(_TITLE_TEXT(root))
        text = " ".join(_VISIBLE_TEXT(root))
        if not _BODY(root):
            text = response.text[:5000]
    elif isinstance(response, TextResponse):
        text = response.text[:5000]
    return block_sign(response.status, response.url, redirected, title, text)


def _request_of(response: Any) -> Any:
    try:
        return response.request
    except AttributeError:  # a response built by hand has none
        return None
