import pytest

from crawler.text import clean_text, html_to_text, parse_posted_at


def test_paragraphs_and_br_become_line_breaks():
    html = "<p>第一段第一行<br>第一段第二行</p><p>第二段</p>"
    assert html_to_text(html) == "第一段第一行\n第一段第二行\n\n第二段"


def test_discuz_style_br_br_paragraphs():
    assert html_to_text("甲<br><br>乙<br />丙") == "甲\n\n乙\n丙"


def test_scripts_styles_and_comments_are_dropped():
    html = "<div>看得见<script>alert('x')</script><style>p{}</style><!-- 注释 -->的字</div>"
    assert html_to_text(html) == "看得见的字"


def test_source_newlines_inside_a_paragraph_are_not_breaks():
    assert html_to_text("<p>一行\n  接着写</p>") == "一行 接着写"


def test_entities_and_nbsp_are_decoded_and_folded():
    assert html_to_text("<p>价格&nbsp;&nbsp;面议 &lt;私聊&gt;</p>") == "价格 面议 <私聊>"


def test_clean_text_removes_control_and_zero_width_characters():
    assert clean_text("补\u200b习\x07班\r\n\r\n\r\n\r\n电话") == "补习班\n\n电话"


@pytest.mark.parametrize("broken", ["", "   ", "<", "<p", "</div></div>", "<<>>", "\x00"])
def test_broken_markup_never_raises(broken):
    assert isinstance(html_to_text(broken), str)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-10-03 14:22", "2026-10-03T14:22:00+08:00"),
        ("发表于 2026-10-3 08:05:11", "2026-10-03T08:05:11+08:00"),
        ("2026年10月3日 14时22分", "2026-10-03T14:22:00+08:00"),
        ("2026-10-03T14:22:00+08:00", "2026-10-03T14:22:00+08:00"),
        ("2026-10-03T06:22:00Z", "2026-10-03T06:22:00+00:00"),
        ("2026/2/30", None),
        ("昨天", None),
        ("", None),
    ],
)
def test_posted_at_is_parsed_as_china_time(raw, expected):
    assert parse_posted_at(raw) == expected


# --- Emoji sequences stay whole (issue 20 point 5) ----------------------------------------------

ZWJ = "\u200d"
COOK = f"\U0001f469{ZWJ}\U0001f373"  # 👩‍🍳
HEART_ON_FIRE = f"\u2764\ufe0f{ZWJ}\U0001f525"  # ❤️‍🔥
RAINBOW_FLAG = f"\U0001f3f3\ufe0f{ZWJ}\U0001f308"  # 🏳️‍🌈
FAMILY = f"\U0001f468{ZWJ}\U0001f469{ZWJ}\U0001f467"  # 👨‍👩‍👧
DARK_TEACHER = f"\U0001f9d1\U0001f3ff{ZWJ}\U0001f3eb"  # 🧑🏿‍🏫
SCOTLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"


@pytest.mark.parametrize("emoji", [COOK, HEART_ON_FIRE, RAINBOW_FLAG, FAMILY, DARK_TEACHER,
                                   SCOTLAND, "1\ufe0f\u20e3", "\U0001f1e8\U0001f1f3"])
def test_emoji_sequences_stay_whole(emoji):
    assert clean_text(f"私房菜{emoji}家教 ") == f"私房菜{emoji}家教"
    assert html_to_text(f"<p>招{emoji}<br>老师</p>") == f"招{emoji}\n老师"


def test_a_joiner_that_joins_no_emoji_is_still_removed():
    # Inside words a joiner only hides a keyword from matching; at an emoji's edge it joins nothing.
    assert clean_text(f"补{ZWJ}习{ZWJ}班") == "补习班"
    assert clean_text(f"{ZWJ}\U0001f469{ZWJ}补习{ZWJ}") == "\U0001f469补习"
    assert clean_text(f"\U0001f469{ZWJ}{ZWJ}\U0001f373") == "\U0001f469\U0001f373"
    # Tag characters outside a flag are dropped as the format characters they are.
    assert clean_text("补\U000e0067\U000e007f习") == "补习"


@pytest.mark.parametrize("html", [
    "<div><p>a<div>b</div>c</p><table><p>x</p><tr><td>1<td>2</table><br>tail</div>",
    "<body><p>一<p>二<ul><li>三<li>四</ul><pre>  x\n  y </pre><!-- c --><script>s</script>t</body>",
    "<div>\u200b补\u200d习 👩\u200d🍳 \x01 a\u3000b\xa0c &amp; &lt;b&gt;</div>",
    '<html><head><title>标题</title><style>p{}</style></head><body><div id="m">正文<br>第二行'
    "<noscript>n</noscript></div><form><input value=x>表单</form></body></html>",
])
def test_an_element_reads_as_its_markup_would(html):
    """parsed_element_text (the element of the page's own parse) gives what html_to_text gives
    for the element's markup, for every element, including those read otherwise as markup
    (<html>, <script>, <style>)."""
    from parsel import Selector

    from crawler.text import parsed_element_text

    for node in Selector(text=html).xpath("//*|//comment()"):
        assert parsed_element_text(node.root) == html_to_text(node.get()), node.get()


def test_text_with_nothing_to_drop_is_kept_as_it_is():
    from crawler.text import _visible

    text = "补习\t班\n\u3000一对一\xa0辅导 👩\u200d🍳"
    assert _visible("补习\t班\n\u3000一对一\xa0辅导") == "补习\t班\n\u3000一对一\xa0辅导"
    assert _visible(text) == text  # a joiner between emoji stays, by the careful path
    assert _visible("补\u200b习\x07") == "补习"
