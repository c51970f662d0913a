"""Case details found in ad text: addresses, grades, subjects, class times, prices."""

from crawler.entities import extract_entities


def test_a_tutoring_ad_yields_every_detail_a_case_needs():
    found = extract_entities(
        "初二、初三数学 物理 小班，周六下午2:00-4:00、晚上7点-9点半，每节课150元，"
        "暑假班 ¥3000/期。地址：岳麓区麓山南路12号 电话 139-1234-5678 微信 tutor_li88"
    )
    assert found["phones"] == ["13912345678"] and found["wechat_ids"] == ["tutor_li88"]
    assert found["grades"] == ["初二", "初三"]
    assert found["subjects"] == ["数学", "物理"]
    assert {"周六", "下午2:00-4:00", "晚上7点-9点半", "暑假"} <= set(found["class_times"])
    assert {"每节课150元", "¥3000/期"} <= set(found["prices"])
    assert found["addresses"] == ["岳麓区麓山南路12号"]


def test_grade_ranges_and_compounds_are_found():
    found = extract_entities("招收1-6年级学生，家住万科城小区3栋，小升初冲刺")
    assert "1-6年级" in found["grades"] and "小升初" in found["grades"]
    assert any(a.endswith("万科城小区3栋") for a in found["addresses"])


def test_text_without_details_yields_empty_lists():
    found = extract_entities("闲置婴儿推车 八成新")
    assert all(values == [] for values in found.values())
