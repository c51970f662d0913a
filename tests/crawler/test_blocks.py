"""Honest blocks: the challenge pages Chinese sites answer crawlers with are told from ordinary
pages (served for real on 127.0.0.1 and read as a crawl reads them), and a blocked crawl is
judged as blocked, not as a site whose layout changed."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from scrapy.http import HtmlResponse, Request, TextResponse

from crawler.config import ConfigError, parse_source
from crawler.failures import block_sign, failure_reason, response_block_sign
from crawler.middlewares.blocks import SiteBlocking
from crawler.monitors import check_crawl, describe, errors_by_cause, is_blocked
from crawler.sandbox import start_sandbox
from crawler.sandbox.blocking import MODES, start_blocking_site
from crawler.sandbox.engines import ENGINE_START_URLS, start_engine_sandbox

REAL_PAGES = Path("/work/shared/real-world/pages")
EXPECTED = {"slider": "slider", "captcha": "captcha", "login": "login", "wall": "login",
            "rate": "rate_limit", "verify": "verify", "busy": "rate_limit"}


def fetch(url: str) -> HtmlResponse:
    """The page at ``url`` as the crawl gets it: after redirects, with their trail in meta."""
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            status, body, final, kind = reply.status, reply.read(), reply.url, reply.headers
    except urllib.error.HTTPError as exc:
        status, body, final, kind = exc.code, exc.read(), url, exc.headers
    meta = {"redirect_urls": [url]} if final != url else {}
    cls = HtmlResponse if "html" in (kind.get("Content-Type") or "") else TextResponse
    return cls(final, status=status, body=body, request=Request(final, meta=meta),
               headers={"Content-Type": kind.get("Content-Type") or "text/html"})


@pytest.fixture(scope="module")
def blocking() -> Iterator[str]:
    handle = start_blocking_site()
    yield handle.url
    handle.stop()


@pytest.mark.parametrize("mode", sorted(EXPECTED))
def test_each_challenge_is_told_by_its_kind(mode, blocking):
    assert response_block_sign(fetch(f"{blocking}/{mode}/post/2.html")) == EXPECTED[mode]
    # The same site's ordinary page, with a login box, "登录后查看完整电话", is not a block.
    assert response_block_sign(fetch(f"{blocking}/{mode}/post/1.html")) is None


def test_ordinary_pages_that_mention_logins_and_captchas_are_not_blocks(blocking):
    for post in range(1, 6):
        page = fetch(f"{blocking}/ok/post/{post}.html")
        assert page.status == 200 and response_block_sign(page) is None, page.url
    assert "验证码" in fetch(f"{blocking}/ok/post/1.html").text  # the ad that talks of them


def test_no_page_of_the_sandbox_and_engine_sites_is_a_block():
    sandbox, engines = start_sandbox(), start_engine_sandbox()
    try:
        urls = [f"{sandbox.urls['classified']}/jiaoyu/pn1/",
                f"{sandbox.urls['classified']}/post/1.shtml",
                f"{sandbox.urls['forum']}/forum-36-1.html",
                f"{sandbox.urls['app']}/api/v1/posts?page=1"]
        urls += [engines.urls[engine] + path for engine, kinds in ENGINE_START_URLS.items()
                 for path in kinds.values()]
        for url in urls:
            page = fetch(url)
            assert page.status == 200 and response_block_sign(page) is None, url
    finally:
        sandbox.stop()
        engines.stop()


@pytest.mark.skipif(not REAL_PAGES.is_dir(), reason="the saved real-world pages are not here")
def test_no_saved_real_world_page_is_a_block():
    pages = sorted(REAL_PAGES.glob("*.html"))
    assert pages
    for path in pages:
        page = HtmlResponse(f"https://example.org/{path.name}", body=path.read_bytes(),
                            request=Request(f"https://example.org/{path.name}"))
        assert response_block_sign(page) is None, path.name


def test_a_json_api_answering_too_many_requests_is_blocked_but_an_ad_is_not():
    def reply(data: dict) -> TextResponse:
        return TextResponse("https://app.example/api/v1/post/1", request=Request(
            "https://app.example/api/v1/post/1"), body=json.dumps(data, ensure_ascii=False)
            .encode(), headers={"Content-Type": "application/json"})

    assert response_block_sign(reply({"code": 10013, "msg": "访问过于频繁，请稍后再试"})) == \
        "rate_limit"
    ad = {"code": 0, "data": {"title": "初三数学一对一", "content": "本人师范毕业，"
          "教龄十年，寒假可上门辅导初中数学物理，一对一针对薄弱环节，提分明显，"
          "欢迎家长来电咨询，电话登录后查看。" * 2}}
    assert response_block_sign(reply(ad)) is None


def test_a_redirect_to_a_login_or_verify_url_is_a_block_and_other_redirects_are_not():
    assert block_sign(200, "https://bbs.example/member.php?mod=logging&action=login", True,
                      "", "") == "login"
    assert block_sign(200, "https://www.example/antispider/?url=x", True, "", "") == "verify"
    assert block_sign(200, "https://www.example/verify/slide", True, "", "") == "verify"
    # The same URL reached without a redirect is a page to judge by its words; ordinary
    # redirects (to https, to a post) are not blocks.
    assert block_sign(200, "https://bbs.example/member.php?mod=logging", False, "", "") is None
    assert block_sign(200, "https://www.example/post/login-tips-for-parents.html", True, "",
                      "文章" * 100) is None
    assert block_sign(200, "https://www.example/thread-1.html", True, "", "") is None


def test_an_error_status_with_a_challenge_is_a_block_and_without_one_is_not():
    assert block_sign(403, "https://x.example/a", False, "", "安全验证 " + "文" * 500) == "verify"
    assert block_sign(403, "https://x.example/a", False, "403 Forbidden", "nginx") is None
    assert block_sign(404, "https://x.example/a", False, "", "页面不存在") is None


def test_a_block_fails_as_blocked_and_the_crawl_is_judged_as_blocked():
    assert failure_reason(SiteBlocking("slider", "https://x.example/")) == ("failed", "blocked")
    stats = {"tutorwatch/pages/list": 1, "tutorwatch/failed/blocked": 3,
             "tutorwatch/blocked/slider": 2, "tutorwatch/blocked/captcha": 1}
    failures = check_crawl(stats, [40, 40, 40])
    # Not "zero_items" nor "few_items": the site refused us, its layout did not change.
    assert [f.check for f in failures] == ["blocked"]
    assert failures[0].detail == {"pages": 3, "kinds": ["captcha", "slider"]}
    assert describe(failures[0].as_dict()).startswith("the site is blocking us: 3 pages")
    assert errors_by_cause(stats) == {"blocked:captcha": 1, "blocked:slider": 2}
    assert is_blocked("blocked", {}) and is_blocked("finished", stats)
    assert not is_blocked("finished", {"tutorwatch/failed/http_403": 1})


def source(**extra) -> object:
    return parse_source({"name": "s", "kind": "html", "start_urls": ["https://x.example/"],
                         "list": {"links": "a::attr(href)"}, "detail": {"title": "h1", "body": "p"},
                         **extra})


def test_the_backoff_key_is_checked_and_defaults_to_an_hour_doubling_to_a_day():
    assert source().backoff == (1.0, 24.0)
    assert source(backoff={"first_hours": 0.5}).backoff == (0.5, 24.0)
    assert source(backoff={"first_hours": 2, "max_hours": 48}).backoff == (2.0, 48.0)
    for bad, key in (({"first_hours": 0}, "backoff.first_hours"),
                     ({"max_hours": "a day"}, "backoff.max_hours"),
                     ({"first_hours": 5, "max_hours": 2}, "backoff.max_hours"),
                     ({"hours": 1}, "backoff.hours"), ("1h", "backoff")):
        with pytest.raises(ConfigError, match=f"key '{key}'"):
            source(backoff=bad)


def test_every_mode_of_the_blocking_site_is_covered():
    assert set(MODES) == set(EXPECTED) | {"ok"}


@pytest.mark.parametrize("html, kind", [
    ("<html><body><p>请拖动滑块完成验证</p></body></html>", "slider"),
    # The words as character references: not in the page's markup as they are.
    ("<html><body><p>&#35831;&#20808;&#30331;&#24405;</p></body></html>", "login"),
    ("<html><body><p>访问过\x00快</p></body></html>", "rate_limit"),
    ("<html><body><p>CAPTCHA</p></body></html>", "captcha"),
    ("<html><head><title>安全检查</title></head><body></body></html>", "verify"),
    ("<html><body><p>数学一对一，登录后查看电话</p>" + "<p>初中数学辅导，名师授课。</p>" * 20
     + "</body></html>", None),
    ("<html><body><p>数学一对一辅导</p><div>登录 注册</div></body></html>", None),
])
def test_a_page_without_a_challenges_words_is_passed_at_once(html, kind):
    """The quick look at the page's text for a piece of a challenge's words finds every
    challenge the full reading finds (references and NULs included)."""
    from crawler.failures import _may_hold_block_words

    response = HtmlResponse("http://127.0.0.1/p", body=html.encode(), encoding="utf-8")
    assert response_block_sign(response) == kind
    title = " ".join(response.xpath("//title//text()").getall())
    text = " ".join(response.xpath(
        "//body//text()[not(ancestor::script) and not(ancestor::a)]").getall())
    if block_sign(200, response.url, False, title, text) is not None:
        assert _may_hold_block_words(response.text)
