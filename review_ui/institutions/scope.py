"""Whether an ad fits what its licensed institution may do: the permitted scope (许可范围) and
the time rules of DOMAIN.md. Plain functions, no Django.

- Subjects: an ad naming school subjects (数学, 英语 …) is out of scope for an institution
  licensed for non-subject training only ("文化艺术类：美术、舞蹈", "非学科类"), and, when the
  scope lists subjects ("学科类：数学、英语"), for the subjects it does not list.
- Late classes: offline training ends by 20:30 (2018 国办发80号); a class time in the ad
  ending later is out of the rules whatever the scope.
- Subject classes on weekends, holidays or in the vacations (周末班, 暑假班) are out of the rules
  for subject training (双减).

Problems are (kind, detail) pairs; the page words them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from crawler.entities import extract_class_times, extract_subjects

LATEST_END = (20, 30)  # offline classes end by 20:30 (DOMAIN.md, "Time rules")
_SUBJECT_SCOPE = re.compile(r"(?<!非)学科")
_CLOCK = re.compile(r"(早上|上午|中午|下午|傍晚|晚上|晚)?\s*(\d{1,2})\s*"
                    r"(?:[:：]\s*(\d{2})|点\s*(半|\d{1,2})?分?)")
_AFTERNOON = {"下午", "傍晚", "晚上", "晚"}
_RESTING_DAYS = re.compile(r"周末|双休日|节假日|寒假|暑假|(?:周|星期|礼拜)[六日天]")


@dataclass(frozen=True)
class ScopeProblem:
    kind: str  # "subject", "late" or "rest_day"
    detail: str


def permits_subjects(scope: str) -> bool:
    return bool(_SUBJECT_SCOPE.search(scope or ""))


def class_end(time_text: str) -> tuple[int, int] | None:
    """When a class time as an ad writes it ends ("晚上7点-9点" → (21, 0)); None without a clock."""
    end = None
    afternoon = False
    for match in _CLOCK.finditer(time_text):
        part, hour, minutes, point_minutes = match.groups()
        hour = int(hour)
        minute = int(minutes) if minutes else 30 if point_minutes == "半" else int(
            point_minutes or 0)
        if part in _AFTERNOON:
            afternoon = True
        elif part:
            afternoon = False
        if afternoon and hour < 12:
            hour += 12
        if hour > 24 or minute > 59:
            continue
        end = (hour, minute)
    return end


def problems(scope: str, text: str) -> list[ScopeProblem]:
    """What in the ad's text the licence or the time rules do not allow."""
    found: list[ScopeProblem] = []
    subjects = extract_subjects(text)
    if subjects:
        listed = extract_subjects(scope or "")
        if listed:
            outside = [s for s in subjects if s not in listed]
        else:
            outside = [] if permits_subjects(scope) else subjects
        if outside:
            found.append(ScopeProblem("subject", "、".join(outside)))
    late = [t for t in extract_class_times(text)
            if (end := class_end(t)) is not None and end > LATEST_END]
    if late:
        found.append(ScopeProblem("late", "、".join(late)))
    if subjects:
        rest_days = list(dict.fromkeys(_RESTING_DAYS.findall(text)))
        if rest_days:
            found.append(ScopeProblem("rest_day", "、".join(rest_days)))
    return found
