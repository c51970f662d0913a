"""The example sources (``crawler/sources/examples/``) against the real pages saved in
``../shared/real-world/pages/`` (evaluation and parser tests only; see its README for what each
page must yield), read offline through the spider each example configures, the charset middleware
and the text and contact stages. Examples are not crawled by default: ``crawl --all``, the
scheduler and ``scrapy list`` read only ``crawler/sources/*.yaml``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse
from scrapy.settings import Settings
from scrapy.statscollectors import MemoryStatsCollector

from crawler.config import BUNDLED_DIR, bundled_sources, load_source, load_sources
from crawler.middlewares.charset import CharsetMiddleware
from crawler.pipelines.cleaning import CleanTextPipeline
from crawler.pipelines.contacts import ContactsPipeline
from crawler.spiders import spider_for
from crawler.spiders.html import select

EXAMPLES = BUNDLED_DIR / "examples"
REAL_WORLD = Path(__file__).resolve().parents[2].parent / "shared" / "real-world"


def example_spider(name: str):
    spider = spider_for(load_source(EXAMPLES / f"{name}.yaml"))()
    crawler = SimpleNamespace(settings=Settings(), spider=spider)
    crawler.stats = MemoryStatsCollector(crawler)
    spider.crawler = crawler
    return spider


def saved_page(name: str, url: str) -> HtmlResponse:
    """A saved page as a crawl would read it: no charset in Content-Type, so the bytes and the
    <meta> declarations decide (crawler.middlewares.charset)."""
    path = REAL_WORLD / "pages" / name
    if not path.exists():
        pytest.skip(f"the shared real-world pages are not beside the repository ({path.parent})")
    request = Request(url)
    response = HtmlResponse(url, body=path.read_bytes(), headers={"Content-Type": "text/html"},
                            request=request)
    return CharsetMiddleware().process_response(request, response)


def list_requests(spider, response: HtmlResponse) -> tuple[list[str], list[str]]:
    """(detail URLs, next-page URLs) the spider asks for from one list page."""
    requests = list(spider.parse_list(response, page=1))
    details = [r.url for r in requests if r.callback == spider.parse_detail]
    pages = [r.url for r in requests if r.callback == spider.parse_list]
    return details, pages


def stored_fields(spider, response: HtmlResponse) -> dict:
    """The ad the spider extracts from a detail page, after the clean-text and contact stages."""
    [item] = list(spider.parse_detail(response))
    item = asyncio.run(CleanTextPipeline().process_item(item))
    return asyncio.run(ContactsPipeline().process_item(item))


def real_texts(first: str, last: str) -> list[str]:
    ids = [f"r-{n:03d}" for n in range(int(first[2:]), int(last[2:]) + 1)]
    rows = {}
    with open(REAL_WORLD / "texts.jsonl", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            rows[row["id"]] = row["text"]
    return [rows[i] for i in ids]


# --- examples are not crawled by default ---------------------------------------------------------

def test_the_examples_load_and_none_is_a_bundled_source():
    examples = load_sources(sorted(EXAMPLES.glob("*.yaml")))
    assert set(examples) == {"example_58", "example_baixing", "example_jiajiao114"}
    assert not set(examples) & set(bundled_sources())


def test_crawl_all_and_the_scheduler_leave_the_examples_out(settings):
    from review_ui.management.commands.crawl import configured_sources
    from review_ui.management.commands.schedule import sources_from

    settings.TUTORWATCH_SOURCES_DIR = ""
    assert not any(name.startswith("example_") for name in configured_sources())
    assert not any(name.startswith("example_") for name in sources_from([str(BUNDLED_DIR)]))
    # Asked for by path, an example is an ordinary source.
    assert "example_58" in sources_from([str(EXAMPLES)])


def test_crawl_list_names_no_example(settings):
    from io import StringIO

    from django.core.management import call_command

    settings.TUTORWATCH_SOURCES_DIR = ""
    out = StringIO()
    call_command("crawl", "--list", stdout=out)
    listed = [line.split("\t")[0] for line in out.getvalue().splitlines()]
    assert "sandbox_forum" in listed and not any(n.startswith("example_") for n in listed)


def test_the_spider_list_leaves_the_examples_out():
    from crawler.spiderloader import SourceSpiderLoader

    names = SourceSpiderLoader.from_settings(Settings()).list()
    assert names and not any(name.startswith("example_") for name in names)


# --- 58同城 list page -----------------------------------------------------------------------------

def test_58_list_follows_each_ad_row_and_the_next_page_and_skips_the_lease_ads():
    page = saved_page("58-list-ershouche-changsha.html", "https://cs.58.com/ershouche/")
    spider = example_spider("58_list")

    details, pages = list_requests(spider, page)

    assert pages == ["https://cs.58.com/ershouche/pn2/"]
    assert len(details) == 176  # one per li.car_list_less; 58 repeats three ads under new links
    assert not any("cplease" in url for url in details)  # the two li.li_ycgouche lease ads
    assert spider.crawler.stats.get_value("tutorwatch/skipped/offsite") is None
    # The links are the rows' own: their anchors carry the rows' titles, first to last.
    anchors = select(page, spider.source.list["links"].replace("::attr(href)", ""))
    titles = [" ".join(a.xpath("normalize-space(.//h1[@class='info_tit']/text())").get().split())
              for a in anchors]
    assert titles[0] == "起亚 K3 2015款 1.6L 自动GL"
    assert titles[-1] == "MINI 2014款 1.2T ONE+-包过户 包上牌 终身免费年检"


# --- 百姓网 detail pages --------------------------------------------------------------------------

BAIXING = [
    # (file, its URL, title, the text begins, contact field must show, phones, WeChat ids)
    ("baixing-detail-baidu-snapshot-pc-watch-repair.html",
     "https://suzhou.baixing.com/lipinfuwu/a1789721589.html",
     "宝格丽手表维修中心-苏州宝格丽名表维修中心", "苏州宝格丽手表维修中心【联系方式:",
     ["蔡师傅", "0000-00000000"],
     ["13800000064", "13800000063"], ["13800000064"]),
    ("baixing-detail-baidu-snapshot-mobile-recycling.html",
     "https://suzhou.baixing.com/m/wupinhuishou/a2006505363.html",
     "新闻|苏州相城整厂打包上门回收*高价", "新闻|苏州相城整厂打包上门回收*高价，",
     ["葛经理", "鸿运物资回收服务有限公司"],
     ["13800000065"], []),
    ("baixing-detail-baidu-snapshot-pc-card-recycling.html",
     "https://suzhou.baixing.com/wupinhuishou/a1956764028.html",
     "江阴回收购物卡_【2019价格】江阴收购购物卡中心", "江阴回收购物卡【联系方式:138-0000-006 6】",
     ["董经理"],
     ["13800000067", "13800000066"], ["13800000067"]),
    ("baixing-detail-baidu-snapshot-mobile-appliance-repair.html",
     "https://suzhou.baixing.com/m/jiadianweixiu/a2006505145.html",
     "苏州速尔SOLE跑步机维修电话（速尔SOLE跑步机全国统一服",
     "苏州速尔SOLE跑步机维修电话（速尔SOLE跑步机全国统一服务）\n\n〔1〕400售893后3008",
     ["客服", "tel:400-8933008"],
     [], []),  # a 400 hotline: the contacts stage keeps mobile numbers only
]


@pytest.mark.parametrize(("name", "url", "title", "begins", "shown", "phones", "wechat_ids"),
                         BAIXING)
def test_baixing_detail_gives_the_title_text_and_contacts(name, url, title, begins, shown, phones,
                                                          wechat_ids):
    page = saved_page(name, url)
    assert page.encoding == "utf-8"  # not the gb2312 the Baidu wrapper declares

    ad = stored_fields(example_spider("baixing_detail"), page)

    assert ad["extraction"] == ""  # the example's selectors found the text, no fallback
    assert ad["title"] == title
    assert ad["body_text"].startswith(begins), ad["body_text"][:200]
    assert "您查询的关键词" not in ad["body_text"]  # not the Baidu snapshot's banner
    for text in shown:
        assert text in ad["contact_raw"]
    assert ad["phones"] == phones
    assert ad["wechat_ids"] == wechat_ids


def test_baixing_a_mobile_number_broken_up_by_mojibake_is_found():
    page = saved_page("baixing-detail-baidu-snapshot-pc-watch-repair.html",
                      "https://suzhou.baixing.com/lipinfuwu/a1789721589.html")
    ad = stored_fields(example_spider("baixing_detail"), page)
    assert "13800000063" in ad["phones"]


def test_baixing_list_selectors_are_evaluable_on_a_page_of_ad_links():
    # No 百姓网 list page is saved; this only shows the guessed selectors run (re:test).
    html = ('<html><body><a href="/jiajiao/a123.html">x</a><a href="/about.html">y</a>'
            '<a href="?page=2">下一页</a></body></html>')
    page = HtmlResponse("https://suzhou.baixing.com/jiajiao/", body=html.encode(),
                        encoding="utf-8")
    details, pages = list_requests(example_spider("baixing_detail"), page)
    assert details == ["https://suzhou.baixing.com/jiajiao/a123.html"]
    assert pages == ["https://suzhou.baixing.com/jiajiao/?page=2"]


# --- 家教114 tutor list ---------------------------------------------------------------------------

JIAJIAO114 = [
    # (file, first tutor id, last tutor id, texts.jsonl ids of its cards)
    ("jiajiao114-list-tutors-save-a.html", "173344", "400092", ("r-199", "r-213")),
    ("jiajiao114-list-tutors-save-b.html", "368209", "393593", ("r-214", "r-226")),
]


@pytest.mark.parametrize(("name", "first", "last", "texts"), JIAJIAO114)
def test_jiajiao114_list_follows_the_15_tutor_cards_and_the_next_page(name, first, last, texts):
    page = saved_page(name, "http://www.jiajiao114.com/l-c1/")
    spider = example_spider("jiajiao114_list")

    details, pages = list_requests(spider, page)

    assert pages == ["http://www.jiajiao114.com/l-c1-a1-p2/"]
    assert len(details) == 15  # not the 43 or 49 li of "div.teacher-list li"
    assert details[0] == f"http://www.jiajiao114.com/teacher/{first}.html"
    assert details[-1] == f"http://www.jiajiao114.com/teacher/{last}.html"
    # The cards are the texts.jsonl rows of this save, in page order: each links its tutor.
    ids = {url.rsplit("/", 1)[1].removesuffix(".html") for url in details}
    for text in real_texts(*texts):
        tutor = text.split("编号：T", 1)[1].split()[0]
        assert tutor in ids
