import pytest

from classifier.normalize import normalize, normalize_with_map


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # full-width → half-width, lower case
        ("ＶＸ：ＡＢＣ１２３", "微信:abc123"),
        ("Ｋ１２ 初中", "k12 初中"),
        # traditional → simplified (OpenCC)
        ("補習數學輔導", "补习数学辅导"),
        ("家教老師 國中英語", "家教老师国中英语"),
        # separators inside words
        ("补·习", "补习"),
        ("数 学", "数学"),
        ("辅/导", "辅导"),
        ("英🌟语", "英语"),
        ("补❤️习班", "补习班"),
        ("数 · 学", "数学"),
        # pinyin and pinyin initials
        ("初二sx", "初二数学"),
        ("周末 bx 班", "周末 补习 班"),
        ("找 jj 老师", "找 家教 老师"),
        ("shu xue yy 一起", "数学 英语 一起"),
        ("s x 和 y w", "数学 和 语文"),
        # homophones and near-forms
        ("捕习", "补习"),
        ("辅捣", "辅导"),
        ("数孝", "数学"),
        ("英吾", "英语"),
        ("晚拖班", "晚托班"),
        ("初2", "初二"),
        # emoji and keycaps
        ("1️⃣对1️⃣", "一对一"),
        ("1v1", "一对一"),
        # contact hints
        ("V信 abc123", "微信 abc123"),
        ("vx: abc123", "微信: abc123"),
        ("➕V abc123", "微信 abc123"),
        ("薇信 abc", "微信 abc"),
        ("扣扣 10000", "qq 10000"),
        # white space and invisible characters
        ("补\u200b习  \t 班\n\n电话", "补习班电话"),
        ("math  class\t\tnow", "math class now"),
    ],
)
def test_each_evasion_trick_is_undone(text, expected):
    assert normalize(text) == expected


@pytest.mark.parametrize("word", ["sxy", "tsx", "wxyz", "yyds"])
def test_latin_words_are_only_replaced_whole(word):
    assert normalize(word) == word


def test_normalize_and_normalize_with_map_agree():
    texts = ["補 習 s x 1️⃣对1️⃣ Ｖ信：ＡＢＣ", "普通的一句话。", "", "   ", "😀" * 10]
    for text in texts:
        assert normalize_with_map(text)[0] == normalize(text)


@pytest.mark.parametrize(
    ("text", "word", "original"),
    [
        ("周末補 習班", "补习", "補 習"),
        ("初二 s x 辅导", "数学", "s x"),
        ("加ＶＸ：ｈｅｌｌｏ９９", "hello99", "ｈｅｌｌｏ９９"),
        ("找数·学老师", "数学老师", "数·学老师"),
        ("暑假 shu xue 捕习班", "补习班", "捕习班"),
    ],
)
def test_a_span_of_the_normalised_text_maps_back_to_the_original(text, word, original):
    normed, offsets = normalize_with_map(text)
    start = normed.index(word)
    a, b = offsets.span(start, start + len(word))
    assert text[a:b] == original


@pytest.mark.parametrize("text", ["", " ", "\x00\x01", "补" * 50_000, "\ud800", None, 12345])
def test_any_input_normalises_without_raising(text):
    assert isinstance(normalize(text), str)
