"""Split a text into plain and highlighted segments for the evidence terms.

The template escapes every segment; this module never produces markup.
"""

from __future__ import annotations

import re


def segments(text: str, terms: list[str]) -> list[tuple[str, bool]]:
    """``[(segment, is_evidence), ...]`` covering ``text`` exactly, longest terms first."""
    wanted = sorted({t for t in terms if t and t.strip()}, key=len, reverse=True)
    if not text or not wanted:
        return [(text, False)] if text else []
    pattern = re.compile("|".join(re.escape(t) for t in wanted), re.IGNORECASE)
    out: list[tuple[str, bool]] = []
    position = 0
    for match in pattern.finditer(text):
        if match.start() > position:
            out.append((text[position:match.start()], False))
        out.append((match.group(0), True))
        position = match.end()
    if position < len(text):
        out.append((text[position:], False))
    return out
