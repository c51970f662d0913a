"""Normalisation against evasion, before tokenising, with a map back to the original text.

Posters dodge keyword filters; this undoes the common tricks so that the model sees the words:

1. characters: Unicode NFKC (full-width letters and digits become half-width, keycap digits
   such as 1️⃣ become 1), lower case, traditional → simplified (OpenCC ``t2s``), zero-width and
   control characters and emoji variation selectors dropped;
2. separators inside words: spaces, dots, slashes, stars, hearts and other symbols or emoji
   standing between two Chinese characters (补·习, 数 学, 英🌟语) are removed, and pinyin
   initials typed apart (s x, b.x) are joined;
3. disguised words: pinyin and pinyin initials (shu xue, sx, bx, fd, jj), homophones and
   near-forms (捕习, 辅捣, 数孝, 英吾, 晚拖) are replaced by the words they hide;
4. contact hints: V信, vx, wx, 薇信, ➕V, 扣扣 … become 微信 / qq;
5. runs of white space fold to one space.

:func:`normalize` returns the text alone (for fitting and scoring); :func:`normalize_with_map`
also returns an :class:`OffsetMap`, so that evidence found in the normalised text is shown on
the exact characters of the original.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from classifier.cache import cached

MAX_CHARS = 20_000  # an ad longer than this is judged on its first 20,000 characters

_DROP = {
    "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\ufe0e", "\ufe0f", "\u20e3",
}


@lru_cache(maxsize=1)
def _t2s_table() -> dict[str, str]:
    """Traditional → simplified for single characters, from OpenCC ``t2s`` (built once, ~0.2 s,
    and kept by ``classifier.cache`` keyed by the version of OpenCC and of its tables)."""
    import opencc

    package = Path(opencc.__file__).resolve().parent
    files = ["opencc.py", "config/t2s.json", "dictionary/TSPhrases.txt",
             "dictionary/TSCharacters.txt"]
    sources = [metadata.version("opencc-python-reimplemented"),
               *((package / name).read_bytes() for name in files)]
    return cached("opencc-t2s", sources, _build_t2s_table)


def _build_t2s_table() -> dict[str, str]:
    from opencc import OpenCC

    converter = OpenCC("t2s")
    block = "".join(chr(cp) for cp in range(0x3400, 0xA000))
    converted = converter.convert(block)
    table = {}
    if len(converted) == len(block):
        for original, simplified in zip(block, converted, strict=True):
            if original != simplified and converter.convert(original) == simplified:
                table[original] = simplified
    return table


# Characters that normalisation may change: everything outside plain ASCII lower case, digits,
# punctuation and the CJK block, plus the traditional characters of the table above.
_ODD_RANGES = (
    "A-Z\x00-\x08\x0b-\x1f\x7f-\u2fff\u3000-\u33ff\ua000-\U0010ffff"
)


@lru_cache(maxsize=1)
def _change_pattern() -> re.Pattern[str]:
    traditional = "".join(sorted(_t2s_table()))
    return re.compile(f"[{_ODD_RANGES}{traditional}]")


@lru_cache(maxsize=65536)
def _char(ch: str) -> str:
    """The normalised form of one character ('' to drop it)."""
    if ch in _DROP or "\U0001f3fb" <= ch <= "\U0001f3ff":  # skin-tone modifiers
        return ""
    category = unicodedata.category(ch)
    if category[0] == "C":
        return " " if ch in "\t\n\r\x0b\x0c" else ""
    if category == "Mn":  # a combining mark left alone
        return ""
    folded = unicodedata.normalize("NFKC", ch).lower()
    # NFKC may decompose into a base and a combining mark (´ → space + U+0301): drop the marks.
    return "".join(
        _t2s_table().get(c, c) for c in folded if unicodedata.category(c) != "Mn"
    )


@dataclass
class OffsetMap:
    """Maps a span of the normalised text back to a span of the original.

    ``starts[k]`` is where piece ``k`` begins in the normalised text; the piece came from
    ``orig[k]`` … ``orig_end[k]`` of the previous stage's text, and ``exact[k]`` says whether it
    is a character-for-character copy (then inner offsets map one to one).
    """

    starts: list[int] = field(default_factory=list)
    orig: list[int] = field(default_factory=list)
    orig_end: list[int] = field(default_factory=list)
    exact: list[bool] = field(default_factory=list)

    def add(self, norm_start: int, orig_start: int, orig_end: int, exact: bool) -> None:
        self.starts.append(norm_start)
        self.orig.append(orig_start)
        self.orig_end.append(orig_end)
        self.exact.append(exact)

    def _piece(self, position: int) -> int:
        return bisect.bisect_right(self.starts, position) - 1

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original (start, end) of the normalised span [start, end)."""
        if not self.starts:
            return 0, 0
        first = max(self._piece(start), 0)
        if self.exact[first]:
            orig_start = self.orig[first] + (start - self.starts[first])
        else:
            orig_start = self.orig[first]
        if end <= start:
            return orig_start, orig_start
        last = max(self._piece(end - 1), 0)
        if self.exact[last]:
            orig_end = self.orig[last] + (end - 1 - self.starts[last]) + 1
        else:
            orig_end = self.orig_end[last]
        return orig_start, max(orig_end, orig_start)


def _fold_characters(text: str) -> tuple[str, OffsetMap]:
    out: list[str] = []
    mapping = OffsetMap()
    length = 0
    position = 0
    for match in _change_pattern().finditer(text):
        i = match.start()
        folded = _char(text[i])
        if folded == text[i]:
            continue
        if i > position:
            mapping.add(length, position, i, True)
            out.append(text[position:i])
            length += i - position
        if folded:
            mapping.add(length, i, i + 1, len(folded) == 1)
            out.append(folded)
            length += len(folded)
        position = i + 1
    if position < len(text):
        mapping.add(length, position, len(text), True)
        out.append(text[position:])
    return "".join(out), mapping


# --- Stage 2: regular-expression rewrites -------------------------------------------------------

_CJK = r"[\u3400-\u9fff]"
# Symbols and emoji that posters put between the characters of a word.
_SEPARATOR = (
    r"[\s·•・.。,，、/\\|_\-~*＊+×xX#@^`'\"“”‘’:;!?！？…"
    r"\u2600-\u27bf\u2b00-\u2bff\u2190-\u21ff\u2200-\u22ff\u25a0-\u25ff"
    r"\U0001f000-\U0001faff]"
)
_INSIDE_WORD = re.compile(rf"(?<={_CJK}){_SEPARATOR}{{1,4}}(?={_CJK})")

# Disguised words: pinyin, pinyin initials, homophones and near-forms → the hidden word.
DISGUISES: dict[str, tuple[str, ...]] = {
    "数学": ("shuxue", "shu xue", "sx", "数孝", "数穴", "舒学", "述学"),
    "语文": ("yuwen", "yu wen", "yw", "雨文", "语闻", "语纹"),
    "英语": ("yingyu", "ying yu", "yy", "英吾", "英玉", "鹰语", "樱语", "英雨"),
    "物理": ("wuli", "wu li", "wl", "吴理", "悟理", "雾理", "勿理"),
    "化学": ("huaxue", "hua xue", "hx", "化雪", "花学"),
    "生物": ("shengwu", "sheng wu",),
    "补习": ("buxi", "bu xi", "bx", "捕习", "卜习", "补袭", "布习", "不习班"),
    "补课": ("buke", "bu ke", "bk", "捕课", "卜课", "补嗑", "补克"),
    "辅导": ("fudao", "fu dao", "fd", "辅捣", "辅倒", "付导", "辅到", "抚导"),
    "家教": ("jiajiao", "jia jiao", "jj", "家缴", "家饺", "佳教", "加教"),
    "作业": ("zuoye", "zuo ye", "zy"),
    "提分": ("tifen", "ti fen", "提芬", "题分"),
    "托管": ("tuoguan", "tuo guan", "拖管", "脱管"),
    "晚托": ("wantuo", "wan tuo", "wt", "晚拖", "晚脱"),
    "网课": ("wangke", "wang ke", "网克", "网磕"),
    "一对一": ("1v1", "1对1", "一v一", "1 v 1", "1to1", "一对1", "1对一"),
    "奥数": ("aoshu", "ao shu", "奥术", "澳数"),
    "老师": ("laoshi", "lao shi", "ls", "老湿", "捞师"),
    "课程": ("kecheng", "ke cheng", "课成"),
    "小学": ("xiaoxue", "xiao xue"),
    "初中": ("chuzhong", "chu zhong", "cz"),
    "高中": ("gaozhong", "gao zhong", "gz"),
    "初二": ("初2",),
    "初一": ("初1",),
    "初三": ("初3",),
    "高一": ("高1",),
    "高二": ("高2",),
    "高三": ("高3",),
    "微信": ("v信", "vx", "wx", "weixin", "wechat", "威信", "薇信", "微❤", "v❤", "➕v", "+v",
             "加v", "卫星", "位信", "vx号"),
    "qq": ("扣扣", "企鹅号"),
}
_LATIN = re.compile(r"^[a-z0-9 ]+$")


def _trie_regex(words: list[str]) -> str:
    """One regular expression matching any of ``words``, longest first, shaped as a trie so that
    a position whose first character starts no word is rejected at once."""
    trie: dict = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def render(node: dict) -> str:
        branches = []
        for ch in sorted((k for k in node if k), key=lambda k: -_depth(node[k])):
            piece = r"\s?" if ch == " " else re.escape(ch)
            branches.append(piece + render(node[ch]))
        if "" in node:
            branches.append("")
        if not branches:
            return ""
        if len(branches) == 1:
            return branches[0]
        optional = branches[-1] == ""
        body = "|".join(b for b in branches if b)
        return f"(?:{body})" + ("?" if optional else "")

    return render(trie)


def _depth(node: dict) -> int:
    return 1 + max((_depth(child) for key, child in node.items() if key), default=0)


def _disguise_pattern() -> tuple[re.Pattern[str], dict[str, str]]:
    lookup = {form: word for word, forms in DISGUISES.items() for form in forms}
    latin = [form for form in lookup if _LATIN.match(form)]
    other = [form for form in lookup if not _LATIN.match(form)]
    # Latin forms only as whole tokens: "sx" but not "sxy" or "tsx".
    pattern = rf"(?<![a-z0-9])(?:{_trie_regex(latin)})(?![a-z])|{_trie_regex(other)}"
    return re.compile(pattern), lookup


_DISGUISE, _DISGUISE_LOOKUP = _disguise_pattern()
# Pinyin initials typed apart: "s x", "s.x", "b/x" → "sx".
_SPACED_LETTERS = re.compile(r"(?<![a-z])([a-z])[\s.·/*\-_]{1,2}([a-z])(?![a-z])")
_SPACES = re.compile(r"\s+")
_EXTRA_SPACE = re.compile(r"\s{2,}|[^\S ]")  # what folding white space changes


def _rewrite(text: str, pattern: re.Pattern[str], replace) -> tuple[str, OffsetMap]:
    out: list[str] = []
    mapping = OffsetMap()
    length = 0
    position = 0
    for match in pattern.finditer(text):
        start, end = match.span()
        if start > position:
            mapping.add(length, position, start, True)
            out.append(text[position:start])
            length += start - position
        replacement = replace(match)
        if replacement:
            mapping.add(length, start, end, False)
            out.append(replacement)
            length += len(replacement)
        position = end
    if position < len(text):
        mapping.add(length, position, len(text), True)
        out.append(text[position:])
    return "".join(out), mapping


def _disguised(match: re.Match[str]) -> str:
    form = _SPACES.sub(" ", match.group(0))
    return _DISGUISE_LOOKUP.get(form) or _DISGUISE_LOOKUP.get(form.replace(" ", ""), match.group(0))


_REWRITES = (
    (_INSIDE_WORD, lambda m: ""),
    (_SPACED_LETTERS, lambda m: m.group(1) + m.group(2)),
    (_DISGUISE, _disguised),
    (_EXTRA_SPACE, lambda m: " "),
)


def _prepare(text: object) -> str:
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    return text[: MAX_CHARS * 2]


def normalize(text: str) -> str:
    """The normalised text (for fitting and scoring)."""
    text = _change_pattern().sub(lambda m: _char(m.group()), _prepare(text))
    for pattern, replace in _REWRITES:
        text = pattern.sub(replace, text)
    return text.strip()[:MAX_CHARS]


class ChainedMap:
    """Offset maps of successive stages; a span is mapped back through them one by one, so
    nothing is composed until evidence actually needs it."""

    def __init__(self, stages: list[OffsetMap]) -> None:
        self.stages = stages

    def span(self, start: int, end: int) -> tuple[int, int]:
        for stage in reversed(self.stages):
            start, end = stage.span(start, end)
        return start, end


def normalize_with_map(text: str) -> tuple[str, ChainedMap]:
    """The normalised text, equal to ``normalize(text)``, and the map back to ``text``."""
    text = _prepare(text)
    folded, mapping = _fold_characters(text)
    stages = [mapping]
    for pattern, replace in _REWRITES:
        if pattern.search(folded) is None:
            continue
        folded, later = _rewrite(folded, pattern, replace)
        stages.append(later)
    stripped = folded.strip()
    if stripped != folded:
        lead = len(folded) - len(folded.lstrip())
        later = OffsetMap()
        later.add(0, lead, lead + len(stripped), True)
        folded = stripped
        stages.append(later)
    return folded[:MAX_CHARS], ChainedMap(stages)
