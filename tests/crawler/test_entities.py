import pytest

from crawler.entities import extract_contact_field, extract_phones, extract_wechat_ids


@pytest.mark.parametrize(
    "text",
    [
        "电话13812345678",
        "电话 138 1234 5678",
        "电话：138-1234-5678",
        "手机 1３８１２３４５６７８",  # full-width digits
        "138\u200b1234\u200b5678",
        "138.1234.5678 王老师",
    ],
)
def test_mobile_numbers_are_found_through_separators(text):
    assert extract_phones(text) == ["13812345678"]


def test_numbers_that_are_not_mobiles_are_ignored():
    assert extract_phones("订单号 2138123456789 价格 12345678901 邮编 410000") == []


def test_each_phone_is_listed_once_in_order():
    assert extract_phones("13900000001 或 13800000002，再说一遍 13900000001") == [
        "13900000001", "13800000002",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("微信：zhang_ls88", ["zhang_ls88"]),
        ("加V: abc123x", ["abc123x"]),
        ("V信 lh-jiaoyu2020 备注家长", ["lh-jiaoyu2020"]),
        ("vx：hello99 ", ["hello99"]),
        ("➕v：shuxue01", ["shuxue01"]),
        ("薇 mama_2019", ["mama_2019"]),
        ("微信号 13912345678", ["13912345678"]),
        ("WX:Tom_2019", ["Tom_2019"]),
    ],
)
def test_wechat_ids_are_found_after_their_hints(text, expected):
    assert extract_wechat_ids(text) == expected


@pytest.mark.parametrize("text", ["Version2020 released", "the wxyzabcd team", "vivo手机 v20"])
def test_words_that_only_look_like_hints_are_not_wechat_ids(text):
    assert extract_wechat_ids(text) == []


def test_a_contact_field_may_hold_a_bare_wechat_id():
    assert extract_contact_field("ys_teacher_0808\n13912345678") == {
        "phones": ["13912345678"], "wechat_ids": ["ys_teacher_0808"],
    }


def test_the_remains_of_emoji_between_a_numbers_digits_are_not_read_as_digits():
    # An emoji between each group of digits, decoded twice: U+FFFD and a digit per emoji.
    text = ("联系方式:\ufffd6\ufffd8\ufffd6\ufffd8138-\ufffd6\ufffd7\ufffd6\ufffd800"
            "\ufffd6\ufffd700-0063")
    assert extract_phones(text) == ["13800000063"]
    assert extract_phones("138\ufffd0012 3456") == []  # one lost character is not an emoji
