"""Extract contacts from ad text: mainland mobile numbers and WeChat ids.

Posters hide contacts from filters with spaces, dashes, dots or zero-width characters between
digits, full-width digits, and hints such as "V信", "vx", "薇", "➕V". Plain functions, no Scrapy.
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


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


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
