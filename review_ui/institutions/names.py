"""Brand names: what a bureau's list and an ad each call a training institution, made
comparable, and an in-memory index that finds the listed institutions an ad names.

A list names "长沙市天心区启航教育培训学校有限公司"; an ad says "启航教育". Both become the brand
"启航": full-width folded, punctuation and parenthesised parts ("（五一校区）") dropped, legal
and trade suffixes (有限公司, 培训学校, 教育科技 …) cut from the end, region prefixes (湖南省,
长沙市, 天心区 …) cut from the front. The region cut from a listed name is kept: an ad that names
another region before the brand ("株洲启航教育") is not the same institution.

In an ad, a brand stands before an institution word (教育, 培训, 学校, 中心 …): each run of
characters ending in one is a candidate, normalised the same way; lead-ins such as "欢迎来到" are
cut. A candidate equal to a listed brand scores 100; otherwise the closest brand by rapidfuzz's
``fuzz.ratio`` scores what it scores, kept when at least ``threshold`` (``NAME_THRESHOLD``, chosen
on benchmarks/data/institution_pairs.jsonl by benchmarks/institutions.py). Plain Python, no Django.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process

# Chosen on the labeled sample (docs/benchmarks.md, "Institution lists"): from 80 up no pair of
# the sample is wrongly linked (at 75, "长沙小天才" reaches 衡阳's 小天才); 85 leaves a margin.
NAME_THRESHOLD = 85.0
MIN_BRAND_CHARS = 2

# Cut from the end of a name, again and again, longest first.
SUFFIXES = sorted({
    "股份有限公司", "有限责任公司", "有限公司", "分公司", "公司", "集团",
    "培训学校", "培训中心", "培训机构", "培训学院", "培训部", "培训班", "培训",
    "辅导中心", "辅导学校", "辅导班", "辅导", "课外辅导", "课外", "补习班", "补习",
    "学习中心", "学习",
    "教育科技", "教育咨询", "教育信息咨询", "教育培训", "教育中心", "教育集团", "教育", "文教",
    "文化传播", "文化传媒", "文化艺术", "文化发展", "文化", "艺术培训", "艺术", "科技", "信息咨询",
    "咨询", "服务部", "服务中心", "工作室", "托管中心", "托管", "托育", "学校", "学堂", "书院",
    "学院", "学苑", "中心", "课堂", "教室", "学馆", "馆", "社",
}, key=len, reverse=True)
# Words that stand before a brand in an ad without being part of it.
LEAD_INS = sorted({"欢迎来到", "欢迎加入", "欢迎", "来到", "选择", "报名", "加入", "就在", "就选",
                   "认准", "咨询", "联系", "位于", "我们", "本校", "在"}, key=len, reverse=True)
# The words a brand in an ad stands before.
INSTITUTION_WORDS = ("教育", "培训", "学校", "学堂", "书院", "学院", "辅导", "课堂", "托管",
                     "艺术", "工作室", "中心", "学苑", "补习", "文化", "公司", "学习", "教室")
_REGION = re.compile(r"^(?P<root>[\u4e00-\u9fff]{2,6}?)(?:特别行政区|自治区|自治州|自治县|省|市|"
                     r"地区|盟|区|县|旗|镇|乡|街道)")
_BRACKETED = re.compile(r"[(（\[【<《][^)）\]】>》]*[)）\]】>》]")
_CAMPUS = re.compile(r"[\u4e00-\u9fff0-9]{0,6}(?:校区|分校|分部|店)$")
_REGION_END = re.compile(r"(?P<root>(?:(?![省市区县旗镇乡])[\u4e00-\u9fff]){2,6}?)"
                         r"(?:自治区|自治州|自治县|省|市|区|县|旗|镇|乡|街道)$")
_INSTITUTION_WORD = re.compile("|".join(INSTITUTION_WORDS))
# Province names as ads write them, without 省 (region roots the list may not name).
PROVINCES = frozenset("北京 天津 上海 重庆 河北 山西 辽宁 吉林 黑龙江 江苏 浙江 安徽 "
                      "福建 江西 山东 河南 湖北 湖南 广东 海南 四川 贵州 云南 陕西 "
                      "甘肃 青海 台湾 内蒙古 广西 西藏 宁夏 新疆 香港 澳门".split())
# Characters after which a brand may begin ("我们的启航教育").
BOUNDARY_CHARS = frozenset("的是找选到在请来和与及就")
WINDOW = 12  # characters looked at before an institution word
LONGEST_ROOT = 6  # characters of a region root (_REGION's root)
_LEAD_IN_SET = frozenset(LEAD_INS)
LONGEST_LEAD_IN = max(map(len, LEAD_INS))
MAX_FUZZY_CHARS = 8
_WORD_CHARS = re.compile(r"[^\u4e00-\u9fffa-z0-9]+")


def fold(text: str) -> str:
    """Full-width folded, lower case, parenthesised parts and punctuation dropped."""
    text = _BRACKETED.sub("", unicodedata.normalize("NFKC", text or "").lower())
    return _WORD_CHARS.sub("", text)


def _cut_suffixes(key: str) -> str:
    changed = True
    while changed:
        changed = False
        campus = _CAMPUS.sub("", key)
        if campus != key and len(campus) >= MIN_BRAND_CHARS:
            key, changed = campus, True
        for suffix in SUFFIXES:
            if key.endswith(suffix) and len(key) - len(suffix) >= MIN_BRAND_CHARS:
                key, changed = key[: -len(suffix)], True
                break
    return key


def _cut_regions(key: str) -> tuple[str, list[str]]:
    """(the key without its leading region names, their roots: 长沙 of 长沙市)."""
    roots: list[str] = []
    changed = True
    while changed:
        changed = False
        match = _REGION.match(key)
        if match and len(key) - match.end() >= MIN_BRAND_CHARS:
            roots.append(match.group("root"))
            key, changed = key[match.end():], True
            continue
        for root in PROVINCES:
            if key.startswith(root) and len(key) - len(root) >= MIN_BRAND_CHARS:
                roots.append(root)
                key, changed = key[len(root):], True
                break
    return key, roots


def _cut_lead_ins(key: str) -> str:
    changed = True
    while changed:
        changed = False
        for word in LEAD_INS:
            if key.startswith(word) and len(key) - len(word) >= MIN_BRAND_CHARS:
                key, changed = key[len(word):], True
                break
    return key


def brand_of(name: str) -> tuple[str, str]:
    """A listed institution's (brand, region roots joined by "/"): "长沙市天心区启航教育培训学校
    有限公司" → ("启航", "长沙/天心"). The brand is the folded name when nothing could be cut."""
    key = _cut_suffixes(fold(name))
    key, roots = _cut_regions(key)
    return _cut_suffixes(_cut_lead_ins(key)), "/".join(roots)


def name_key(name: str) -> str:
    """A full name as compared when a list row has no credit code."""
    return fold(name)[:200]


@dataclass(frozen=True)
class Candidate:
    brand: str  # folded, suffixes cut
    region: str  # the region root named just before it, or ""
    words: str  # the ad's words that hold it (folded)


def _before_brand(before: str, known: frozenset[str]) -> tuple[bool, str]:
    """Whether a brand may start after ``before`` (the characters before it in its run), and
    the region root those characters end with, if any (the longest)."""
    if not before:
        return True, ""
    for size in range(min(len(before), LONGEST_ROOT), 1, -1):
        if before[-size:] in known:
            return True, before[-size:]
    match = _REGION_END.search(before)
    if match:
        return True, match.group("root")
    return (before[-1] in BOUNDARY_CHARS
            or any(before[-size:] in _LEAD_IN_SET for size in range(2, LONGEST_LEAD_IN + 1))), ""


def candidates_in(text: str, regions: Iterable[str] = ()) -> list[Candidate]:
    """Where an ad's text may name a brand: before each institution word (教育, 培训 …), every
    tail of the preceding characters that starts at the run's beginning, after a lead-in
    ("欢迎来到"), a region ("长沙", "天心区") or a boundary character ("的"). ``regions`` are
    the region roots known from the list (a frozenset is taken as given, provinces included).
    Distinct, in order of appearance."""
    folded = unicodedata.normalize("NFKC", text or "").lower()
    known = regions if isinstance(regions, frozenset) else frozenset(regions) | PROVINCES
    found: dict[tuple[str, str], Candidate] = {}
    for piece in re.split(r"[^\u4e00-\u9fffa-z0-9]+", folded):
        for word in _INSTITUTION_WORD.finditer(piece):
            start = max(0, word.start() - WINDOW)
            prefix = _cut_suffixes(piece[start:word.start()])
            if prefix and prefix[-1].isdigit():
                continue
            for cut in range(len(prefix) - MIN_BRAND_CHARS + 1):
                if cut == 0 and start > 0:
                    continue  # the window, not the text, begins here
                ok, region = _before_brand(prefix[:cut], known)
                if not ok:
                    continue
                brand = prefix[cut:]
                if (brand, region) not in found:
                    found[brand, region] = Candidate(brand, region, brand + word.group(0))
    return list(found.values())


@dataclass(frozen=True)
class NameMatch:
    institution_id: int
    score: float
    words: str  # the ad's words that named it


class NameIndex:
    """Listed brands, for matching many ads: built once per version of the list."""

    def __init__(self, entries: Iterable[tuple[int, str, str]],
                 threshold: float = NAME_THRESHOLD) -> None:
        """``entries``: (institution id, brand, region roots joined by "/") as
        :func:`brand_of` gives them."""
        self.threshold = threshold
        listed = [(pk, brand, [root for root in region.split("/") if root])
                  for pk, brand, region in entries]
        # Which regions hold which, as the listed names show them ("长沙市天心区": 天心 is in
        # 长沙): an ad saying 天心区 fits an institution listed under 长沙市.
        self.within: dict[str, set[str]] = {}
        for _, _, roots in listed:
            for depth, root in enumerate(roots):
                self.within.setdefault(root, set()).update(roots[:depth])
        self.regions = sorted(self.within, key=len, reverse=True)
        self.known_regions = frozenset(self.regions) | PROVINCES
        self.by_brand: dict[str, list[tuple[int, frozenset[str]]]] = {}
        for pk, brand, ordered in listed:
            roots = frozenset(ordered)
            # "长沙新启航" when another listed name shows 长沙 is a place: 新启航 of 长沙.
            for root in self.regions:
                if brand.startswith(root) and len(brand) - len(root) >= MIN_BRAND_CHARS:
                    brand, roots = brand[len(root):], roots | {root}
                    break
            if len(brand) >= MIN_BRAND_CHARS:
                self.by_brand.setdefault(brand, []).append((pk, roots))
        self.brands = list(self.by_brand)
        # (length, character) -> the brands of that length holding that character: a near
        # name is looked for among the few that can reach the threshold, not the whole list.
        self._holding: dict[tuple[int, str], list[str]] = {}
        for brand in self.brands:
            for char in set(brand):
                self._holding.setdefault((len(brand), char), []).append(brand)

    def _within_reach(self, query: str) -> list[str]:
        return _within_reach_of(self._holding, query, self.threshold)

    def __len__(self) -> int:
        return sum(len(holders) for holders in self.by_brand.values())

    def match(self, text: str) -> list[NameMatch]:
        """The listed institutions the text names, best score first, one row each."""
        best: dict[int, NameMatch] = {}
        for candidate in candidates_in(text, self.known_regions):
            brand = candidate.brand
            if brand in self.by_brand:
                hits = [(brand, 100.0)]
            elif MIN_BRAND_CHARS < len(brand) <= MAX_FUZZY_CHARS:
                near = self._within_reach(brand)
                hit = process.extractOne(brand, near, scorer=fuzz.ratio,
                                         score_cutoff=self.threshold) if near else None
                hits = [(hit[0], float(hit[1]))] if hit else []
            else:
                hits = []
            for listed, score in hits:
                for pk, roots in self.by_brand[listed]:
                    # Same brand, another place: a different institution.
                    if candidate.region and roots and not (
                            {candidate.region} | self.within.get(candidate.region, set())) & roots:
                        continue
                    if pk not in best or best[pk].score < score:
                        best[pk] = NameMatch(pk, round(score, 1), candidate.words)
        return sorted(best.values(), key=lambda m: (-m.score, m.institution_id))


def _within_reach_of(holding: dict[tuple[int, str], list[str]], query: str,
                     threshold: float) -> list[str]:
    """The brands that may score ``threshold`` against ``query`` with ``fuzz.ratio``
    (2 x common subsequence / total length): of a length near enough, and holding one of the
    query's first characters, since a brand sharing ``need`` of them shares one of any
    ``len(query) - need + 1``."""
    found: set[str] = set()
    size = len(query)
    for length in range(max(1, size // 2), size * 2 + 1):
        if 200 * min(size, length) < threshold * (size + length):
            continue
        need = math.ceil(threshold * (size + length) / 200)
        for char in set(query[: size - need + 1]):
            found.update(holding.get((length, char), ()))
    return list(found)


def _same_region(one: str, other: str) -> bool:
    return one.startswith(other) or other.startswith(one)
