"""Detail pages whose markup defeats the source's selectors (crawler/spiders/html.py): the ad is
kept, found by a lenient re-parse or as the page's whole visible text, and marked so; only a
page with no text at all is dropped."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from types import SimpleNamespace

import pytest
from scrapy.exceptions import DropItem
from scrapy.http import HtmlResponse, Request
from scrapy.settings import Settings
from scrapy.statscollectors import MemoryStatsCollector

from crawler.config import parse_source
from crawler.incremental import KNOWN, IncrementalMiddleware
from crawler.pipelines import CleanTextPipeline
from crawler.spiders import spider_for
from crawler.text import lenient_parse, page_text

SOURCE = {
    "name": "legacy_site", "kind": "html", "start_urls": ["http://127.0.0.1/list"],
    "list": {"links": "a.post::attr(href)"},
    "detail": {"title": "h1.title::text", "body": "div.desc", "contact": "xpath://div[@class='contact']"},
}
HEAD = '<!DOCTYPE html><html><head><meta charset="utf-8">'
POST = ('<h1 class="title">初中数学 周末小班</h1><div class="desc"><p>中考数学冲刺。</p>'
        '<p>周六上午<br>九点开课。</p></div><div class="contact">电话：13800000001</div>')


def crawl_of(source: dict = SOURCE):
    spider = spider_for(parse_source(source, origin="test.yaml"))()
    crawler = SimpleNamespace(settings=Settings(), spider=spider)
    crawler.stats = MemoryStatsCollector(crawler)
    spider.crawler = crawler
    return spider, crawler.stats


def page(html: str, url: str = "http://127.0.0.1/post/1", meta: dict | None = None):
    request = Request(url, meta=meta or {})
    return HtmlResponse(url, body=html.encode(), encoding="utf-8", request=request)


def parsed(html: str, **kwargs) -> tuple[list, dict]:
    spider, stats = crawl_of()
    return list(spider.parse_detail(page(html, **kwargs))), stats.get_stats()


def test_text_the_selectors_find_is_not_marked():
    [item], stats = parsed(f"{HEAD}<title>帖子</title></head><body>{POST}</body></html>")
    assert item["extraction"] == ""
    assert item["body_text"] == "中考数学冲刺。\n\n周六上午\n九点开课。"
    assert not any(key.startswith("tutorwatch/items/extracted") for key in stats)


def test_an_unclosed_title_is_read_again_by_html_parser_with_the_same_selectors():
    html = f"{HEAD}<title>初中数学 - 本地网</head><body>{POST}</body></html>"
    assert page(html).css("div.desc").get() is None  # lxml reads the whole page as the title
    [item], stats = parsed(html)
    assert item["extraction"] == "html.parser"
    assert item["title"] == "初中数学 周末小班"
    assert item["body_text"] == "中考数学冲刺。\n\n周六上午\n九点开课。"
    assert item["contact_raw"] == "电话：13800000001"
    assert item["raw_body"] == html.encode()  # the page itself is kept as evidence
    assert stats["tutorwatch/items/extracted/fallback"] == 1
    assert stats["tutorwatch/items/extracted/fallback/html.parser"] == 1


def test_a_layout_the_selectors_miss_keeps_the_pages_visible_text():
    html = (f"{HEAD}<title>高一英语</title><style>p {{ color: red }}</style></head><body>"
            "<div class=\"nav\">首页 &gt; 教育</div><article><h2>高一英语 周日小班</h2>"
            "<p>语法精讲 &amp; 阅读。<br>电话：13800000002</p></article>"
            "<script>var t = '不可见';</script><noscript>请开启脚本</noscript>"
            "<template><p>模板</p></template><!-- 注释 --></body></html>")
    [item], stats = parsed(html)
    assert item["extraction"] == "page_text"
    assert item["title"] == "高一英语"
    assert item["body_text"] == ("首页 > 教育\n\n高一英语 周日小班\n\n"
                                 "语法精讲 & 阅读。\n电话：13800000002")
    assert item["raw_body"] == html.encode()
    assert stats["tutorwatch/items/extracted/fallback/page_text"] == 1


def test_a_page_with_no_visible_text_is_dropped_as_empty():
    html = f"{HEAD}<title>blank</title></head><body><div class=\"desc\"> </div></body></html>"
    spider, stats = crawl_of()
    [item] = spider.parse_detail(page(html))
    assert (item["title"], item["body_text"], item["extraction"]) == ("", "", "")
    with pytest.raises(DropItem):
        asyncio.run(CleanTextPipeline(stats).process_item(item))
    assert stats.get_value("tutorwatch/items/dropped/empty") == 1


def test_a_page_that_shows_only_a_loading_note_still_needs_javascript():
    html = (f"{HEAD}<title>某某网</title></head><body><div id=\"app\">加载中…</div>"
            "<script>render()</script></body></html>")
    items, stats = parsed(html)
    assert items == []
    assert stats["tutorwatch/failed/js_only"] == 1


def test_a_stored_ad_whose_page_shows_only_the_sites_frame_is_taken_down():
    spider, stats = crawl_of()
    crawler = spider.crawler
    middleware = IncrementalMiddleware(crawler, timedelta(days=30), recheck=False,
                                       recheck_after=timedelta(hours=24))
    url = "http://127.0.0.1/post/1"
    gone = page(f"{HEAD}<title>本地网</title></head><body><div>该信息已删除</div></body></html>",
                url, meta={KNOWN: url})
    [takedown] = middleware.process_spider_output(gone, spider.parse_detail(gone))
    assert takedown["takedown"] == "gone"
    broken = page(f"{HEAD}<title>初中数学</head><body>{POST}</body></html>", url,
                  meta={KNOWN: url})
    [item] = middleware.process_spider_output(broken, spider.parse_detail(broken))
    assert item["extraction"] == "html.parser" and "takedown" not in item


def test_page_text_leaves_out_the_title_but_not_what_an_unclosed_title_swallowed():
    root = lenient_parse("<html><head><title>标题<body><p>正文一</p><p>正文二</p></body>")
    assert page_text(root) == ("标题", "正文一\n\n正文二")
