"""Extract contacts from ad text: mainland mobile numbers and WeChat ids.

Posters hide contacts from filters with spaces, dashes, dots or zero-width characters between
digits, full-width digits, and hints such as "V信", "vx", "薇", "➕V". Plain functions, no Scrapy.

Emoji put between a number's digits reach us, through a page's double decoding, as runs of a
replacement character and a digit ("138-�6�7�6�800…"): such a pair is never a digit of the
number, so the pairs are dropped before numbers are read.
"""

from __future__ import annotations

import re
import unicodedata

# Up to two junk characters between digits: spaces, dashes, dots, zero-width, brackets.
_SEP = r"[\s\-\.·•_/\\()（）\u200b\u200c\u200d\ufeff]{0,2}"
_MOBILE = re.compile(r"(?<![0-9])1" + "".join(f"{_SEP}[0-9]" for _ in range(10)) + r"(?![0-9])")
_MOBILE_PREFIX = re.compile(r"^1[3-9]")

_WECHAT_HINT = (
    r"(?:微信号?|威信|薇信|[vV]信|薇|➕\s*[vV]|\+\s*[vV]|加\s*[vV]"
    r"|(?<![A-Za-z])(?i:weixin|wechat|vx|wx)(?![A-Za-z])"
    r"|(?<![A-Za-z])[vV](?=\s*[:：]|\s))"
)
_WECHAT = re.compile(
    _WECHAT_HINT
    + r"\s*[:：=]?\s*(?:号\s*[:：]?\s*)?"
    + r"([A-Za-z][A-Za-z0-9_\-]{5,19}|1[3-9][0-9]{9})(?![A-Za-z0-9_\-])"
)


# A replacement character and the digit after it: the remains of an emoji (see above).
_BROKEN_EMOJI = re.compile(r"\ufffd[0-9]")


def _fold(text: str) -> str:
    return _BROKEN_EMOJI.sub("", unicodedata.normalize("NFKC", text))


def extract_phones(text: str) -> list[str]:
    """Distinct mobile numbers in order of appearance, digits only."""
    found: list[str] = []
    for match in _MOBILE.finditer(_fold(text or "")):
        digits = re.sub(r"[^0-9]", "", match.group(0))
        if _MOBILE_PREFIX.match(digits) and digits not in found:
            found.append(digits)
    return found


def extract_wechat_ids(text: str) -> list[str]:
    """Distinct WeChat ids announced by a hint (微信, vx, V信, 薇 …), in order of appearance."""
    found: list[str] = []
    for match in _WECHAT.finditer(_fold(text or "")):
        wechat_id = match.group(1)
        if wechat_id not in found:
            found.append(wechat_id)
    return found


def extract_contacts(text: str) -> dict[str, list[str]]:
    return {"phones": extract_phones(text), "wechat_ids": extract_wechat_ids(text)}


_BARE_WECHAT = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{5,19}$")


def extract_contact_field(text: str) -> dict[str, list[str]]:
    """Contacts from a dedicated contact field, where a WeChat id may stand alone on its line."""
    found = extract_contacts(text)
    for line in _fold(text or "").splitlines():
        token = line.strip()
        if _BARE_WECHAT.match(token) and token not in found["wechat_ids"]:
            found["wechat_ids"].append(token)
    return found


# --- Case details: what an officer needs beyond contacts ----------------------------------------
# Addresses, grades, subjects, class times and prices, found by wording patterns. They are
# leads for the officer to read in context (the ad page lists them beside the text), not facts.

_CJK = r"\u4e00-\u9fff"
_ADDRESS = re.compile(
    r"(?:地址|地点|位置|校区|上课地点)\s*[:：]\s*([^\s，,。；;！!？?]{2,40})"
    rf"|([{_CJK}]{{1,8}}(?:区|县|市|镇)[{_CJK}0-9]{{0,12}}?(?:路|街|大道|巷|道)[0-9一二三四五六七八九十百]+号)"
    rf"|([{_CJK}]{{0,8}}[{_CJK}]{{2}}(?:小区|花园|公寓|大厦|家园|广场|新村|苑)(?:[0-9A-Za-z一二三四五六七八九十]+(?:栋|幢|号楼|单元))?)"
)
_GRADE = re.compile(
    r"[一二三四五六七八九1-9]\s*(?:[-—~～至到]\s*[一二三四五六七八九1-9]\s*)?年级"
    r"|初[一二三]|高[一二三]|小[一二三四五六]|小学|初中|高中|小升初|中考|高考|幼小衔接|学前班|大班"
)
_SUBJECT = re.compile(
    r"道德与法治|语文|数学|英语|外语|物理|化学|生物|历史|地理|政治|奥数|作文|阅读理解|古诗文"
    r"|大语文|自然拼读|新概念|拼音|识字|算术|口算|思维训练"
)
_TIME_OF_DAY = r"(?:早上|上午|中午|下午|傍晚|晚上|晚)?"
_CLOCK = r"\d{1,2}\s*(?:[:：]\s*\d{2}|点(?:半|\d{1,2}分?)?)"
_CLASS_TIME = re.compile(
    rf"{_TIME_OF_DAY}{_CLOCK}(?:\s*[-—~～至到]\s*{_TIME_OF_DAY}{_CLOCK})?"
    r"|(?:每)?(?:周|星期|礼拜)[一二三四五六日天末](?:\s*[-—~～至到、]\s*(?:周|星期)?[一二三四五六日天])?"
    r"|周末|双休日|节假日|寒假|暑假|晚托|午托"
)
_PRICE = re.compile(
    r"[¥￥]\s*\d+(?:\.\d+)?(?:\s*/\s*[节次课时小月期人年]+)?"
    r"|\d+(?:\.\d+)?\s*(?:元|块|rmb|RMB)(?:\s*/\s*[节次课时小月期人年]+|\s*每\s*[节次课时小月期人年]+)?"
    r"|\d+(?:\.\d+)?\s*/\s*(?:节|次|课时|小时|月)"
    r"|(?:每节课|每节|每次|每课时|每小时|每月|学费|课时费|费用)\s*[:：]?\s*\d+(?:\.\d+)?\s*(?:元|块)?"
)


def _distinct(values: list[str]) -> list[str]:
    return list(dict.fromkeys(v.strip() for v in values if v and v.strip()))


def extract_addresses(text: str) -> list[str]:
    found = []
    for match in _ADDRESS.finditer(_fold(text or "")):
        found.append(next(group for group in match.groups() if group))
    return _distinct(found)


def extract_grades(text: str) -> list[str]:
    return _distinct(_GRADE.findall(_fold(text or "")))


def extract_subjects(text: str) -> list[str]:
    return _distinct(_SUBJECT.findall(_fold(text or "")))


def extract_class_times(text: str) -> list[str]:
    return _distinct(_CLASS_TIME.findall(_fold(text or "")))


def extract_prices(text: str) -> list[str]:
    return _distinct(_PRICE.findall(_fold(text or "")))


def extract_entities(text: str) -> dict[str, list[str]]:
    """Everything a case record lists about an ad, each sort in order of appearance."""
    return {
        "phones": extract_phones(text),
        "wechat_ids": extract_wechat_ids(text),
        "addresses": extract_addresses(text),
        "grades": extract_grades(text),
        "subjects": extract_subjects(text),
        "class_times": extract_class_times(text),
        "prices": extract_prices(text),
    }
