"""Writes benchmarks/data/institution_pairs.jsonl: ad texts and listed institutions, labeled
whether the ad is that institution's (the labeled sample of issue 19's name matching).

    python benchmarks/make_institution_pairs.py

Every brand, place, template and confusable name below is made up by us for this sample; none
is copied from a real list or ad. Each line: {"ad", "institution", "same", "case"}, where case
is one of:

- ``short``: the ad uses the brand alone or with a lead-in ("欢迎来到启航教育");
- ``city``: the ad puts the institution's own city or district before the brand;
- ``full``: the ad gives the full registered name, or it with the campus;
- ``other_city``: the same brand after another city (a different institution: hard);
- ``similar``: a different brand that looks alike (新启航 / 启航, 博学 / 博雅: hard);
- ``variant``: the institution's own brand, written a way the matcher is not built for
  (a typo, no institution word): counted, so recall is not flattered;
- ``unrelated``: another listed institution's ad.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

OUT = Path(__file__).parent / "data" / "institution_pairs.jsonl"

# (brand, a look-alike brand of another institution, a way of writing the brand we miss)
BRANDS = [
    ("启航", "新启航", "起航"), ("博雅", "博学", "博雅堂课"), ("明德", "明德轩", "明徳"),
    ("小天才", "小天使", "小天才们"), ("学而优", "学而思", "学而忧"), ("思远", "思源", "思远们"),
    ("睿思", "睿智", "锐思"), ("晨曦", "晨光", "晨希"), ("书香", "书香门第", "书乡"),
    ("优学", "优学派", "尤学"), ("智慧树", "智慧星", "智会树"), ("金太阳", "金色阳光", "金太陽光"),
    ("新起点", "新起航", "新起典"), ("育英", "育才", "育瑛"), ("求知", "求真", "求之"),
    ("卓越", "卓尔", "桌越"), ("龙门", "龙腾", "龍门阵"), ("青苗", "青禾", "清苗"),
    ("星辰", "星河", "星尘"), ("乐学", "乐思", "樂学"),
]
CITIES = [("长沙", "天心"), ("株洲", "芦淞"), ("湘潭", "雨湖"), ("衡阳", "石鼓"), ("岳阳", "君山")]
FORMS = ["教育培训学校有限公司", "教育科技有限公司", "文化艺术培训中心", "培训学校",
         "教育咨询有限公司", "课外辅导中心"]
SUBJECTS = ["数学", "英语", "语文", "物理", "美术", "书法"]
SHORT = [
    "{b}教育暑期{s}班火热招生，小班教学，名额有限，电话咨询。",
    "欢迎来到{b}教育！初中{s}一对一，提分快。",
    "我们的{b}培训中心开设周末{s}课，地址见图。",
    "【{b}辅导】小学{s}同步提高，老师经验丰富。",
]
CITY = [
    "{c}{b}教育 {s}寒假班 报名从速",
    "{d}区{b}培训中心：{s}精品小班，家长放心。",
]
FULL = [
    "{name}招生简章：{s}课程，周一至周五18:00-20:00。",
    "{name}（{d}校区）秋季{s}班开课啦",
]


def institution(brand: str, city: str, district: str, form: str) -> str:
    return f"{city}市{district}区{brand}{form}" if form[0] != "课" else f"{city}市{brand}{form}"


def main() -> None:
    rng = random.Random(19)
    rows = []
    for index, (brand, alike, missed) in enumerate(BRANDS):
        city, district = CITIES[index % len(CITIES)]
        name = institution(brand, city, district, FORMS[index % len(FORMS)])
        subject = SUBJECTS[index % len(SUBJECTS)]

        def add(ad: str, same: bool, case: str, listed: str = name) -> None:
            rows.append({"ad": ad, "institution": listed, "same": same, "case": case})

        for template in SHORT:
            add(template.format(b=brand, s=rng.choice(SUBJECTS)), True, "short")
        for template in CITY:
            add(template.format(b=brand, c=city, d=district, s=subject), True, "city")
        for template in FULL:
            add(template.format(name=name, d=district, s=subject), True, "full")
        other_city = CITIES[(index + 2) % len(CITIES)][0]
        add(f"{other_city}{brand}教育 {subject}培优班招生", False, "other_city")
        add(f"{alike}教育{subject}辅导，电话咨询", False, "similar")
        add(f"欢迎来到{alike}培训中心，周末{subject}班", False, "similar")
        add(f"{missed}，{subject}一对一，效果好", True, "variant")
        other = BRANDS[(index + 7) % len(BRANDS)][0]
        add(f"{other}教育{subject}班火热招生", False, "unrelated")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(rows)} pairs written to {OUT}")


if __name__ == "__main__":
    main()
