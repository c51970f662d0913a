"""What issue 22 cached to make ``tutorwatch classify`` faster gives what it computed before.

The shipped model's verdict on every corpus text is pinned by ``test_shipped_verdicts.py`` (the
caches are warm across its batches there); these check the cached helpers themselves: a cached
answer is the answer for that text (and year), never one left from another.
"""

from __future__ import annotations

import datetime as dt
import re

from classifier.corpus import load_split
from classifier.fields import field_spans, field_values
from classifier.normalize import normalize
from classifier.rules import calendar_hits, latest_time, pattern_spans, rule_spans


def test_a_date_without_a_year_is_judged_in_the_year_asked_about_even_when_cached():
    text = "3月8日上课"  # a Saturday in 2025 and 2026, a Friday in 2024
    assert calendar_hits(text, dt.date(2025, 3, 3)) == (False, True)
    assert calendar_hits(text, dt.date(2024, 3, 3)) == (False, False)
    assert calendar_hits(text, dt.date(2026, 3, 3)) == (False, True)


def test_cached_spans_and_times_are_those_of_the_text_asked_about():
    texts = [normalize(row["text"]) for row in load_split("test")[:60]]
    texts += ["晚上8点到9点半 数学", "晚上8点到9点半 数学 ", "周六 10月1日 补习"]
    pattern = re.compile(r"数学|补习|辅导")
    for _ in range(2):  # cold, then warm
        for text in texts:
            assert list(pattern_spans(pattern, text)) == [m.span() for m in pattern.finditer(text)]
    assert latest_time("晚上8点到9点半 数学") == 21 * 60 + 30
    assert latest_time("晚上8点到9点 数学") == 21 * 60
    assert rule_spans("晚上8点到9点半 数学", "late:offline_after_20:30") == [(5, 8)]  # 9点半
    assert field_spans("补习 一对一 补习", "keywords") == [(0, 2), (7, 9), (3, 6)]
    # a returned list is the caller's own: changing it changes no later answer
    spans = rule_spans("数学 数学", "cue:subject")
    spans.append((99, 100))
    assert rule_spans("数学 数学", "cue:subject") == [(0, 2), (3, 5)]
    assert field_values("周六 数学 补习")["time=weekend"] == 1.0
