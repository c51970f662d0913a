"""Text normalisation before tokenising.

v1: Unicode NFKC (full-width letters and digits become half-width), lower case, zero-width and
control characters removed, whitespace folded. The classifier issue extends this against evasion
(traditional → simplified, separators inside words, pinyin initials, homophones).
"""

from __future__ import annotations

import re
import unicodedata

_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_SPACES = re.compile(r"\s+")
MAX_CHARS = 20_000  # an ad longer than this is judged on its first 20,000 characters


def normalize(text: str) -> str:
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    text = unicodedata.normalize("NFKC", text[: MAX_CHARS * 2])
    text = _INVISIBLE.sub("", text)
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    text = _SPACES.sub(" ", text).strip().lower()
    return text[:MAX_CHARS]
