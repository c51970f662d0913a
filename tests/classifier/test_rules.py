import datetime as dt

import pytest

from classifier.normalize import normalize
from classifier.rules import NAMES, calendar_hits, latest_time, rule_features, rule_spans


def value(text: str, name: str) -> float:
    return rule_features([normalize(text)])[0, NAMES.index(name)]


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("晚上7点到9点半", 21 * 60 + 30), ("19:00-20:40", 20 * 60 + 40), ("下午3点", None),
     ("晚8:30", 20 * 60 + 30), ("早上8点", None)],
)
def test_the_latest_evening_time_is_found(text, minutes):
    assert latest_time(normalize(text)) == minutes


def test_an_offline_class_ending_after_20_30_fires_the_timing_rule():
    assert value("初二数学小班 晚7点到9点", "late:offline_after_20:30") == 1
    assert value("初二数学小班 晚6点到8点", "late:offline_after_20:30") == 0


def test_an_online_class_after_21_00_fires_the_online_rule():
    assert value("线上直播课 初中英语 晚上9点半开始", "late:online_after_21:00") == 1
    assert value("初中英语 晚上9点半开始", "late:online_after_21:00") == 0


def test_dates_are_checked_against_the_legal_holiday_calendar():
    assert calendar_hits("10月2日开课", dt.date(2026, 5, 1)) == (True, False)
    assert calendar_hits("2026年10月10日", dt.date(2026, 5, 1)) == (False, True)
    assert calendar_hits("2026年10月13日", dt.date(2026, 5, 1)) == (False, False)
    # a year chinese-calendar has no data for is not a holiday, and never an error
    assert calendar_hits("2031年10月1日", dt.date(2026, 5, 1))[0] is False


def test_form_subject_and_grade_together_fire_the_co_occurrence_feature():
    assert value("晚托班 初二数学作业讲解", "form+subject+grade:form_care") == 1
    assert value("晚托班 接送 吃饭 午睡", "form+subject+grade:form_care") == 0


def test_news_cues_are_counted():
    assert value("教育局通报：严禁违规补课，举报电话12345", "news_density") > 0.5


def test_rule_spans_point_at_the_matched_words():
    text = normalize("暑假 初二数学 一对一")
    spans = rule_spans(text, "cue:subject")
    assert [text[a:b] for a, b in spans] == ["数学"]


def test_rule_features_have_one_column_per_name():
    assert rule_features(["", "补习"]).shape == (2, len(NAMES))
