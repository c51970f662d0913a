"""Split a text into plain and highlighted segments for a verdict's evidence.

Evidence is a list of spans ``{"start", "end", "text", "weight"}`` (character offsets in the
ad's text, as the classifier gives them) or, from older models, plain terms whose occurrences are
highlighted. The template escapes every segment; this module never produces markup.
"""

from __future__ import annotations

import re
from typing import Any


def _ranges(text: str, evidence: list[Any]) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    terms: list[str] = []
    for piece in evidence or []:
        if isinstance(piece, dict):
            try:
                start, end = int(piece["start"]), int(piece["end"])
            except (KeyError, TypeError, ValueError):
                continue
            if 0 <= start < end <= len(text) and text[start:end] == piece.get("text", text[start:end]):
                ranges.append((start, end))
            elif piece.get("text"):
                terms.append(str(piece["text"]))
        elif isinstance(piece, str) and piece.strip():
            terms.append(piece)
    if terms:
        wanted = sorted(set(terms), key=len, reverse=True)
        pattern = re.compile("|".join(re.escape(t) for t in wanted), re.IGNORECASE)
        ranges += [m.span() for m in pattern.finditer(text)]
    ranges.sort()
    merged: list[tuple[int, int]] = []
    for start, end in ranges:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def segments(text: str, evidence: list[Any]) -> list[tuple[str, bool]]:
    """``[(segment, is_evidence), ...]`` covering ``text`` exactly."""
    if not text:
        return []
    out: list[tuple[str, bool]] = []
    position = 0
    for start, end in _ranges(text, evidence):
        if start > position:
            out.append((text[position:start], False))
        out.append((text[start:end], True))
        position = end
    if position < len(text):
        out.append((text[position:], False))
    return out


def for_field(evidence: list[Any], field: str) -> list[Any]:
    """The evidence of one field ("title" or "text"); plain terms apply to both."""
    return [
        piece for piece in evidence or []
        if not isinstance(piece, dict) or piece.get("field", "text") == field
    ]
