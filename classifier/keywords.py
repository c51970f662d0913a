"""The baseline: a plain keyword list, as officers use today. An ad is flagged when its raw text
contains any of the words; no normalisation, no context."""

from __future__ import annotations

KEYWORDS = (
    "补习", "补课", "辅导班", "辅导", "家教", "一对一", "1对1", "培优", "提分", "托管", "晚托",
    "午托", "自习室", "住家教师", "奥数", "小升初", "中考", "高考", "网课", "直播课", "思维训练",
    "幼小衔接", "学科", "衔接班", "暑假班", "寒假班", "小班课", "上门",
)


def keyword_label(text: str) -> int:
    return int(any(word in (text or "") for word in KEYWORDS))


def keyword_terms(text: str) -> list[str]:
    return [word for word in KEYWORDS if word in (text or "")]
