"""Split a text into plain and highlighted segments for a verdict's evidence.

Evidence comes in two forms, and a list may mix them:

- a term (``"一对一辅导"``): every occurrence is highlighted, longest terms first;
- a span (``{"start": 12, "end": 17, "text": "一对一辅导", "weight": 0.8}``): exactly that range
  of characters. Offsets count into the ad's text; the classifier may also have counted them
  into ``title + "\\n" + text`` (the string it scored), so ``segments`` checks which reading
  makes ``text`` match and shifts the span; a span whose offsets fit neither is looked for as a
  term instead, and one without ``text`` is trusted as it stands when it fits.

Evidence is a list of spans ``{"start", "end", "text", "weight"}`` (character offsets in the
ad's text, as the classifier gives them) or, from older models, plain terms whose occurrences are
highlighted. The template escapes every segment; this module never produces markup.
"""

from __future__ import annotations

import re
from typing import Any

Segment = tuple[str, bool]


def evidence_terms(evidence: list[Any]) -> list[str]:
    """The words of the evidence, for listing beside the text."""
    out: list[str] = []
    for entry in evidence or []:
        if isinstance(entry, str):
            term = entry
        elif isinstance(entry, dict):
            term = str(entry.get("text") or "")
        else:
            continue
        if term.strip() and term not in out:
            out.append(term)
    return out


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _place_span(text: str, span: dict[str, Any], prefix_len: int | None) -> tuple[int, int] | None:
    """Where ``span`` falls in ``text``; None if it cannot be placed there."""
    start, end = _int(span.get("start")), _int(span.get("end"))
    if start is None or end is None or end <= start:
        return None
    wanted = span.get("text")
    shifts = [0] + ([prefix_len] if prefix_len is not None else [])
    for shift in shifts:
        s, e = start - shift, end - shift
        if 0 <= s < e <= len(text) and (not isinstance(wanted, str) or text[s:e] == wanted):
            return s, e
    return None


def segments(text: str, evidence: list[Any], prefix: str | None = None) -> list[Segment]:
    """``[(segment, is_evidence), ...]`` covering ``text`` exactly.

    ``prefix`` is what preceded ``text`` in the string the classifier scored (for the body:
    ``title + "\\n"``), so that spans counted in that string land in the right place."""
    if not text:
        return []
    marked = [False] * len(text)
    terms: set[str] = set()
    prefix_len = len(prefix) if prefix is not None else None
    for entry in evidence or []:
        if isinstance(entry, str):
            if entry.strip():
                terms.add(entry)
        elif isinstance(entry, dict):
            placed = _place_span(text, entry, prefix_len)
            if placed is not None:
                for i in range(*placed):
                    marked[i] = True
            elif isinstance(entry.get("text"), str) and entry["text"].strip():
                terms.add(entry["text"])
    if terms:
        ordered = sorted(terms, key=len, reverse=True)
        pattern = re.compile("|".join(re.escape(t) for t in ordered), re.IGNORECASE)
        for match in pattern.finditer(text):
            for i in range(match.start(), match.end()):
                marked[i] = True
    out: list[Segment] = []
    start = 0
    for i in range(1, len(text) + 1):
        if i == len(text) or marked[i] != marked[start]:
            out.append((text[start:i], marked[start]))
            start = i
    return out


def for_field(evidence: list[Any], field: str) -> list[Any]:
    """The evidence of one field ("title" or "text"); plain terms apply to both."""
    return [
        piece for piece in evidence or []
        if not isinstance(piece, dict) or piece.get("field", "text") == field
    ]
