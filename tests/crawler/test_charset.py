"""Charset decisions: the reading that decodes cleanly wins when declarations disagree.

The real pages in ``../shared/real-world/pages/`` (evaluation and parser tests only) are decoded
and parsed, and checked against the expected values in that folder's README."""

from __future__ import annotations

from pathlib import Path

import pytest
from scrapy.http import HtmlResponse, Request

from crawler.charset import decide_charset, declared_charsets, decodes_cleanly, looks_binary
from crawler.middlewares.charset import CharsetMiddleware

REAL_WORLD = Path(__file__).resolve().parents[2].parent / "shared" / "real-world" / "pages"
AD = "小学数学一对一辅导，提分快。联系电话 13800000001"


def test_undeclared_gbk_bytes_read_as_gb18030():
    assert decide_charset(AD.encode("gbk")).encoding == "gb18030"
    assert decide_charset(AD.encode("gbk")).basis == "detected"


def test_characters_beyond_gbk_read_as_gb18030():
    text = "𠮷祥路䶮园小区 初中数学"
    decision = decide_charset(text.encode("gb18030"), "text/html")
    assert decision.encoding == "gb18030"
    assert text.encode("gb18030").decode(decision.encoding) == text


def test_utf8_bytes_under_a_gb2312_meta_read_as_utf8():
    body = b'<meta http-equiv="Content-Type" content="text/html;charset=gb2312">' + AD.encode()
    decision = decide_charset(body)
    assert (decision.encoding, decision.basis) == ("utf-8", "overruled")


def test_gbk_bytes_under_a_utf8_header_read_as_gb18030():
    decision = decide_charset(AD.encode("gbk"), "text/html; charset=utf-8")
    assert (decision.encoding, decision.basis) == ("gb18030", "overruled")


def test_a_declaration_that_agrees_with_the_bytes_is_declared():
    decision = decide_charset(b'<meta charset="gbk">' + AD.encode("gbk"), "text/html")
    assert (decision.encoding, decision.basis) == ("gb18030", "declared")


def test_a_bom_wins_over_a_meta():
    decision = decide_charset(b"\xef\xbb\xbf" + b'<meta charset="gbk">' + AD.encode())
    assert (decision.encoding, decision.basis) == ("utf-8", "bom")


def test_the_source_config_overrides_everything():
    decision = decide_charset(AD.encode(), "text/html; charset=utf-8", override="gbk")
    assert (decision.encoding, decision.basis) == ("gb18030", "config")


def test_a_meta_after_the_first_kilobyte_is_still_read():
    body = b"<!-- " + b"x" * 5000 + b' --><meta charset="big5">' + "補習班".encode("big5")
    assert declared_charsets(body) == ("big5hkscs",)  # as browsers read "big5"
    decision = decide_charset(body)
    assert decision.basis == "declared" and body.decode(decision.encoding).endswith("補習班")


def test_a_page_cut_inside_a_character_still_decodes_cleanly():
    assert decodes_cleanly(AD.encode()[:-1], "utf-8")


def test_bytes_nothing_decodes_cleanly_get_the_fewest_replacements():
    body = AD.encode() + b"\xff\xfe\xfa" + AD.encode()
    decision = decide_charset(body, "text/html; charset=utf-8")
    assert (decision.encoding, decision.basis) == ("utf-8", "lossy")


def test_binary_bodies_are_recognised():
    assert looks_binary(b"\x89PNG\r\n\x1a\n" + bytes(200))
    assert looks_binary(b"PK\x03\x04" + b"zip")
    assert looks_binary(bytes(range(32)) * 10)
    assert not looks_binary(AD.encode("gbk"))
    assert not looks_binary("\ufeff中文".encode("utf-16"))


def test_the_middleware_decodes_and_counts_and_demotes_binary_bodies():
    middleware = CharsetMiddleware()
    request = Request("http://127.0.0.1/post/1")
    body = b'<html><head><meta charset="gb2312"></head><body>' + AD.encode() + b"</body></html>"
    response = HtmlResponse(request.url, body=body, headers={"Content-Type": "text/html"},
                            request=request)
    decoded = middleware.process_response(request, response)
    assert AD in decoded.text
    assert decoded.encoding == "utf-8"
    assert request.meta["charset"]["basis"] == "overruled"
    png = HtmlResponse(request.url, body=b"\x89PNG\r\n\x1a\n" + bytes(100), request=request)
    assert not hasattr(middleware.process_response(request, png), "text")


# --- real pages ----------------------------------------------------------------------------------

def real_page(name: str) -> HtmlResponse:
    path = REAL_WORLD / name
    if not path.exists():
        pytest.skip(f"the shared real-world pages are not beside the repository ({REAL_WORLD})")
    request = Request(f"https://example.org/{name}")
    # Served as a saved page is: Content-Type without a charset, so only the bytes and <meta> speak.
    response = HtmlResponse(request.url, body=path.read_bytes(),
                            headers={"Content-Type": "text/html"}, request=request)
    return CharsetMiddleware().process_response(request, response)


def text_of(response: HtmlResponse, css: str) -> str:
    return "".join(response.css(css).getall()).replace("\xa0", " ").strip()


BAIXING = [
    ("baixing-detail-baidu-snapshot-pc-watch-repair.html",
     "【图】- 宝格丽手表维修中心-苏州宝格丽名表维修中心 - "
     "苏州姑苏/沧浪/金阊/平江平江礼品定制 - 苏州百姓网",
     "宝格丽手表维修中心-苏州宝格丽名表维修中心",
     "https://suzhou.baixing.com/lipinfuwu/a1789721589.html", 48),
    ("baixing-detail-baidu-snapshot-mobile-recycling.html",
     "【图】新闻|苏州相城整厂打包上门回收*高价 - 苏州相城 - 物品回收 - 苏州百姓网",
     "新闻|苏州相城整厂打包上门回收*高价",
     "https://suzhou.baixing.com/m/wupinhuishou/a2006505363.html", None),
    ("baixing-detail-baidu-snapshot-pc-card-recycling.html",
     "【图】- 江阴回收购物卡_【2019价格】江阴收购购物卡中心 - 苏州虎丘/高新区物品回收 - 苏州百姓网",
     "江阴回收购物卡_【2019价格】江阴收购购物卡中心",
     "https://suzhou.baixing.com/wupinhuishou/a1956764028.html", None),
    ("baixing-detail-baidu-snapshot-mobile-appliance-repair.html",
     "【图】- 苏州速尔SOLE跑步机维修电话（速尔SOLE跑步机全国统一服 - "
     "苏州姑苏/沧浪/金阊/平江家电维修 - 苏州百姓网",
     "苏州速尔SOLE跑步机维修电话（速尔SOLE跑步机全国统一服",
     "https://suzhou.baixing.com/m/jiadianweixiu/a2006505145.html", 118),
]


@pytest.mark.parametrize(("name", "title", "h1", "base", "replacements"), BAIXING)
def test_baixing_snapshots_declaring_gb2312_read_as_utf8(name, title, h1, base, replacements):
    page = real_page(name)
    assert page.encoding == "utf-8"
    assert page.meta["charset"]["basis"] == "overruled"
    assert page.meta["charset"]["declared"] == ["gb18030", "utf-8"]
    assert text_of(page, "title::text") == title
    assert text_of(page, "h1::text") == h1
    assert page.css("base::attr(href)").get() == base
    if replacements is not None:  # the U+FFFD already in the source, and no more
        assert page.text.count("\ufffd") == replacements


def test_baixing_watch_repair_meta_items_and_hidden_phone():
    page = real_page("baixing-detail-baidu-snapshot-pc-watch-repair.html")
    assert "北京正达瑞钟表商贸有限公司苏州泰华商城店" in page.text
    assert "蔡师傅" in page.text and "微信号: 13800000064" in page.text.replace("：", ": ")
    assert page.css("a#show-contact::attr(data-phone)").get() == "0000-00000000"


def test_baixing_card_recycling_phone_in_two_halves():
    page = real_page("baixing-detail-baidu-snapshot-pc-card-recycling.html")
    assert text_of(page, "a.contact-no::text").startswith("1380000****")
    assert page.css("a.show-contact::attr(data-contact)").get() == "0066"
    assert "13800000066" in text_of(page, "p#mobileNumber ::text")
    assert "董经理" in page.text


def test_baixing_mobile_recycling_contact():
    page = real_page("baixing-detail-baidu-snapshot-mobile-recycling.html")
    assert page.css("a[href^='tel:']::attr(href)").getall().count("tel:13800000065") == 2
    assert "鸿运物资回收服务有限公司" in page.text and "葛经理" in page.text


def test_baixing_appliance_repair_hotline_links():
    page = real_page("baixing-detail-baidu-snapshot-mobile-appliance-repair.html")
    hrefs = page.css("a::attr(href)").getall()
    assert "tel:400-8933008" in hrefs and "sms:400-8933008" in hrefs


def test_58_list_page_rows_and_ids():
    page = real_page("58-list-ershouche-changsha.html")
    assert page.encoding == "utf-8" and page.meta["charset"]["basis"] == "declared"
    assert text_of(page, "title::text") == "【长沙二手车市场|长沙二手车交易市场】 -长沙58同城"
    assert page.text.count("\ufffd") == 35
    car_list = page.css("ul.car_list")
    assert len(car_list) == 1
    assert len(car_list.xpath("./li")) == 178
    rows = car_list.css("li.car_list_less")
    assert len(rows) == 176
    assert len(car_list.css("li.car_list_less.ac_item")) == 115
    assert len(car_list.css("li.li_ycgouche")) == 2
    assert len(page.css("h1.info_tit")) == 178
    assert len({row.attrib.get("data-entid") for row in rows}) == 173
    first_title = text_of(rows[0], "h1.info_tit::text")
    assert first_title.startswith("起亚 K3 2015款 1.6L 自动GL")
    assert rows[0].attrib["data-entid"] == "33528871934148"
    assert "7.98" in "".join(rows[0].css("h3 ::text").getall())
    last_title = "".join(rows[-1].css("h1.info_tit ::text").getall())
    assert "MINI 2014款 1.2T ONE+-包过户 包上牌 终身免费年检" in last_title
    assert "18.8" in "".join(rows[-1].css("h3 ::text").getall())
    found = "".join(page.css("div.info_funcs_right ::text").getall()).replace(" ", "")
    assert "共找到14555辆车源" in found
    next_link = page.xpath("//div[contains(@class,'pager')]//a[contains(., '下一页')]/@href").get()
    assert next_link == "/ershouche/pn2/"


@pytest.mark.parametrize(("name", "first", "last"), [
    ("jiajiao114-list-tutors-save-a.html", ("汤老师", "T173344"), ("张老师", "T400092")),
    ("jiajiao114-list-tutors-save-b.html", ("陈老师", "T368209"), ("朱老师", "T393593")),
])
def test_jiajiao114_lists_have_fifteen_cards(name, first, last):
    page = real_page(name)
    assert page.encoding == "utf-8" and page.meta["charset"]["basis"] == "declared"
    assert text_of(page, "title::text") == "【上海家教中心-上海家教中心】_家教114"
    cards = page.css("div.teacher-list > ul > li")
    assert len(cards) == 15
    assert len(page.css("div.teacher-list a.btn")) >= 15
    for card, (teacher, number) in ((cards[0], first), (cards[-1], last)):
        assert text_of(card, "div.teacher-pic span::text") == teacher
        assert number in text_of(card, "div.teacher-pic i::text")
    next_link = page.xpath("//div[contains(@class,'nav-page')]//a[contains(., '下页')]/@href").get()
    assert next_link == "http://www.jiajiao114.com/l-c1-a1-p2/"


def test_jiajiao114_save_a_nested_badges_make_a_naive_selector_overcount():
    page = real_page("jiajiao114-list-tutors-save-a.html")
    assert len(page.css("div.teacher-list li")) == 43


def test_zhangmen_landing_page_forms_and_options():
    page = real_page("zhangmen-landing-online-1on1.html")
    assert page.encoding == "utf-8" and page.meta["charset"]["basis"] == "declared"
    assert text_of(page, "title::text") == (
        "掌门1对1官网-中国高端在线1对1高中辅导品牌-清北复交浙精英在线1对1-在线一对一")
    assert not page.css("h1")
    assert len(page.css("form")) == 3
    grades = page.css("select[name=grade]")
    assert len(grades) == 2 and all(len(s.css("option")) == 16 for s in grades)
    subjects = page.css("select[name=weakSubject]")
    assert len(subjects) == 2 and all(len(s.css("option")) == 11 for s in subjects)
    assert text_of(page, "span.callNum::text") == "1010-8868"


def _fresh_text(body: bytes, encoding: str) -> str:
    """``response.text`` as Scrapy decodes it on its own, for a response of ``encoding``."""
    return HtmlResponse("http://127.0.0.1/p", body=body, encoding=encoding).text


@pytest.mark.parametrize("body, content_type", [
    (b'<meta http-equiv="Content-Type" content="text/html; charset=gbk">' + AD.encode("gbk"),
     "text/html"),
    (AD.encode(), "text/html; charset=utf-8"),
    (AD.encode("gbk"), "text/html; charset=utf-8"),
    ("𠮷祥路䶮园小区".encode("gb18030"), None),
    (AD.encode()[:-1], "text/html"),  # cut inside a character: decided, not read whole
    (b"\xef\xbb\xbf" + AD.encode(), None),  # a BOM
    (AD.encode("gbk") + b"\xff\xfe\x80", None),  # lossy
    (b"<html>ascii only</html>", "text/html; charset=latin-1"),
])
def test_deciding_gives_the_text_scrapy_would_read(body, content_type):
    """The middleware hands on the text that deciding read, as the response's text: the same
    text Scrapy decodes on its own for that encoding, and the same decision as before."""
    headers = {"Content-Type": content_type} if content_type else {}
    response = HtmlResponse("http://127.0.0.1/p", body=body, headers=headers)
    decoded = CharsetMiddleware().process_response(Request(response.url), response)
    decision = decide_charset(body, content_type)
    assert decoded.encoding == decision.encoding
    assert decoded.text == _fresh_text(body, decision.encoding)


def test_a_gbk_page_is_decoded_once():
    body = b'<meta charset="gbk"><p>' + AD.encode("gbk") * 50
    response = HtmlResponse("http://127.0.0.1/p", body=body, headers={"Content-Type": "text/html"})
    decoded = CharsetMiddleware().process_response(Request(response.url), response)
    assert decoded._cached_ubody is not None  # the decision's reading, kept
    assert decoded.text == body.decode("gb18030")
