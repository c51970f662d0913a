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
