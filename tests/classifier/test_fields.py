"""The offer's structured fields, read the same way whatever the layout."""

from __future__ import annotations

from classifier.fields import field_dicts, field_spans, field_values, strip_field_labels
from classifier.normalize import normalize


def fields_of(text: str) -> dict[str, float]:
    return field_values(normalize(text))


def test_a_sales_role_at_a_tutoring_firm_is_read_from_any_card_layout():
    boss = ("课程顾问\n6-10K·13薪\n思睿教育\n培训机构-学科辅导 · 未融资 · 20-99人\n"
            "职位描述\n为初二、初三学员匹配一对一课程并完成签约")
    inline = "招学管师，公司：明理教育咨询有限公司，跟进初二学员月考成绩，安排数学课时"
    for text in (boss, inline):
        found = fields_of(text)
        assert found["role=sales_or_class_staff"] == 1.0
        assert "offer:tutoring_employer+staff" in found
        assert "audience=junior" in found
    assert "employer=tutoring_firm" in fields_of(boss)
    assert "employer=consultancy" in fields_of(inline)


def test_homework_help_that_teaches_is_not_read_as_pure_care():
    teaching = fields_of("向阳晚辅：放学接回，老师逐题批改、错题当面讲解，三年级以上")
    assert "offer:care+homework_teaching" in teaching
    assert "offer:homework_teaching+school_age" in teaching
    care = fields_of("小饭桌托管：接送、午餐、午休，督促完成作业，不讲课")
    assert "service=supervision_only" in care
    assert "offer:care+homework_teaching" not in care


def test_ages_grades_subjects_prices_and_times():
    found = fields_of("适合6-12岁孩子，周六数学思维课 80元/节，晚上7点到9点")
    assert {"audience=primary", "subject=school", "price=per_lesson", "time=weekend",
            "time=after_20:30", "offer:school_age+subject", "offer:subject+timing"} <= set(found)
    assert "audience=adult" in fields_of("18-45岁职场人士 商务英语")
    assert "audience=preschool" in fields_of("3-6岁幼儿 拼音识字")
    assert "time=after_20:30" not in fields_of("下午4点到6点")


def test_questions_and_reports_offer_nothing():
    assert "offer:asks_without_price" in fields_of("请问这道题怎么做？我是初二学生")
    assert "offer:reports_without_price" in fields_of("2026年中考分数线公布 教育局发布录取政策")
    complaint = fields_of("反映小区里有人开初二数学补习班，晚上九点下课，是否合规？请部门查处")
    assert "asks=complaint" in complaint and "offer:asks_without_price" in complaint
    assert "offer:asks_without_price" not in fields_of("初二数学一对一 100元/小时 有没有需要的")


def test_the_keyword_list_is_a_signal_on_normalised_text():
    assert fields_of("出租两室一厅")["keywords"] == 0.0
    assert fields_of("周末补 习 班 家教 一对一")["keywords"] > 0.5  # split 补 习 is normalised


def test_field_labels_are_stripped_and_values_kept():
    text = normalize("岗位职责：负责初二数学教学\n任职要求：本科\n服务范围：朝阳 海淀\n回T退订")
    stripped = strip_field_labels(text)
    for label in ("岗位职责", "任职要求", "服务范围", "退订"):
        assert label not in stripped
    for value in ("初二数学教学", "本科", "朝阳"):
        assert value in stripped


def test_every_field_that_fires_has_a_span_for_evidence():
    text = normalize("思睿教育（培训机构-学科辅导）招课程顾问，初三数学一对一，周六上课 200元/节")
    for name in field_dicts([text])[0]:
        assert field_spans(text, name), name
