"""The offer's structured fields, as features of their own, and the layout's labels taken out of
the word features.

An ad offers something (lessons, care, a job) to someone (a grade, an age) from someone (a
training firm, a school, a nanny agency), at a price and a time. Job boards, classified sites,
texted promotions and app stores each lay that out differently: ``岗位职责`` / ``任职要求``,
``服务内容`` / ``服务范围``, ``行业：…`` or ``培训机构-学科辅导 · 20-99人``. A model of words alone
learns the layouts it was shown; the fields here are read the same way whatever the layout:

- ``employer``: a tutoring firm (培训机构, 学科辅导, 培训学校), an education consultancy
  (教育咨询, 学业规划), a care centre (托管, 晚辅), a housekeeping agency, a school;
- ``role``: a teacher, or the staff a tutoring firm sells and runs its classes with (课程顾问,
  学管师, 班主任, 教务, 电话销售): recruitment for a tutoring business all the same;
- ``service``: lessons, homework help that teaches (作业辅导, 批改, 讲解; DOMAIN.md: Shanghai
  counts 作业辅导 as subject training), supervision only (不讲课), meals and pick-up, a diagnosis
  that sells a course, a camp or trip;
- ``audience``: preschool, primary, junior, senior (grades, 初二, ages 6–12岁), or adults;
- ``subject``: a school subject (语数英物化…) or a non-subject one (美术, 编程…);
- ``price`` and ``time``: per lesson or month, packages and discounts; evenings after 20:30,
  weekends, 寒暑假 (DOMAIN.md's timing rules);
- ``keywords``: how many words of the officers' keyword list the normalised text holds;
- ``asks`` and ``reports``: a question (求推荐, 这道题怎么做), a citizen's complaint to a bureau
  (反映, 投诉, 是否合规) or a report (发布, 公布, 分数线), none of which offers anything.

:func:`field_values` gives these for one normalised text as a ``{"group=value": 1.0}`` dict, with
the conjunctions that make an offer (a school-age audience with a school subject and lessons; a
tutoring firm hiring sales staff); :func:`field_dicts` is the named module-level function a
saved model refers to (a ``FunctionTransformer`` before a ``DictVectorizer``).
:func:`strip_field_labels` is the preprocessor of the word and character features: it removes
the labels of field templates, so those features see the values, not the template.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

from classifier.keywords import KEYWORDS
from classifier.rules import calendar_hits, latest_time, rule_spans, spans_of

PATTERNS: dict[str, dict[str, str]] = {
    "employer": {
        "tutoring_firm": r"培训机构|学科辅导|学科培训|辅导机构|辅导中心|教育培训|培训学校|培训中心"
                         r"|补习|教培|学习中心|学堂|学苑|培优",
        "consultancy": r"教育咨询|学业规划|学习规划|升学规划|文化传播|教育科技|学情诊断",
        "care_centre": r"托管|晚辅|午辅|晚托|午托|小饭桌|课后服务中心|作业屋",
        "housekeeping": r"家政|育儿嫂|育儿师|保姆|住家",
        "school": r"公办|民办(?!培训|教育培训)|九年制|十二年制|完全中学|实验学校|实验小学"
                  r"|实验中学|(?:中学|小学|学校)(?:招聘|诚聘|招)",
    },
    "role": {
        "teacher": r"老师|教师|讲师|助教|家教|辅导员|学科带头人",
        "sales_or_class_staff": r"课程顾问|学管师|学习管家|学习顾问|班主任|教务|电话销售|电销"
                                r"|课程销售|招生|市场专员|督学师|学习规划师|教育顾问|学业规划师"
                                r"|校区主管|咨询师",
    },
    "service": {
        "lessons": r"授课|上课|讲课|开课|课程|班课|一对一|一对多|1对1|小班|课时|讲义|试听|开讲"
                   r"|提升班|冲刺|集训|专项|同步",
        "homework_teaching": r"作业辅导|辅导作业|辅导功课|批改|讲解|错题|答疑|讲题|订正|晚辅|午辅"
                             r"|检查作业",
        "supervision_only": r"不讲课|不辅导|不涉及学科|只看管|仅看护|纯看护|不补课|不教学|不上课"
                            r"|不讲题|不批改|督促完成|自己完成作业|功课不会辅导|不辅导功课",
        "care": r"接送|午餐|晚饭|晚餐|午休|接回|看护|托管",
        "diagnosis": r"学情诊断|测评|诊断|提分方案|学习方案|规划",
        "camp": r"研学|夏令营|冬令营|营地|游学|训练营",
    },
    "audience": {
        "preschool": r"幼儿园|大班|中班|学前|幼小衔接|幼升小|[3-6]-[4-6]岁",
        "primary": r"[一二三四五六1-6]年级|小学|[一二三四五六]上|[一二三四五六]下|小学生|小升初"
                   r"|(?<!\d)[6-9]-1[0-2]岁|低年级|高年级",
        "junior": r"初[一二三]|初中|初高中|中考|[七八九]年级|[7-9]年级|初升高",
        "senior": r"高[一二三](?!分)|高中|高考|选科",
        "adult": r"成人|大学生|考研|在职人员|职场|四六级|公务员|考公|教资|专升本|自考",
    },
    "subject": {
        "school": r"语文|数学|英语|物理|化学|生物|历史|地理|政治|道法|奥数|作文|阅读|古诗文|文言文"
                  r"|拼音|识字|口算|计算|应用题|几何|函数|方程|单词|语法|自然拼读|新概念|数理化"
                  r"|语数外|语数英|全科|理科|文科|思维",
        "non_subject": r"美术|绘画|舞蹈|钢琴|书法|声乐|乐器|吉他|篮球|足球|游泳|跆拳道|武术|围棋"
                       r"|象棋|编程|机器人|乐高|轮滑|羽毛球|口才|主持|体能|拉丁|街舞|尤克里里",
    },
    "price": {
        "per_lesson": r"元\s*/?\s*(?:节|课时|次|小时|课)|课时费|每节|一节课|每课时",
        "per_period": r"元\s*/?\s*(?:月|期|学期)|月费|学费|包月",
        "package": r"课包|课时包|课时卡|次卡|年卡|充值|预存|储值|套餐|\d+次一期|\d+节",
        "discount": r"立减|早鸟|优惠|折|送|免费试|试听|限时|名额",
    },
    "time": {
        "weekend": r"周末|周六|周日|星期六|星期[天日]|礼拜[六天]|双休日",
        "holiday": r"寒假|暑假|暑期|寒暑假|假期|国庆|五一|春节|小长假|法定节假日",
    },
    "asks": {
        "question": r"求推荐|请问|求助|哪里有|有没有|谁知道|求问|怎么办|怎么做|这道题|这题|求解"
                    r"|靠谱吗|大家觉得|[吗呢][?？]",
        "pupil": r"我是(?:一名)?(?:初|高|小学)|老师布置|作业本|我们班|我们老师",
        # a citizen's complaint or question to a bureau (12345, a message board): it describes
        # an offer, it does not make one
        "complaint": r"反映|投诉|举报|请.{0,6}部门|有关部门|是否合法|是否合规|是否违规|违规吗"
                     r"|违法吗|算不算|来电|诉求|来信|市民|业主",
    },
    "reports": {
        "news": r"发布|公布|出炉|解读|分数线|政策|名单|官宣|通知|公告|记者|据了解|教育局|查处|严禁"
                r"|通报|举报",
        "exam_info": r"考试时间|报名时间|志愿填报|录取|招生计划|考点|考场|试卷|真题|命题",
    },
}
_COMPILED = {group: {value: re.compile(pattern) for value, pattern in values.items()}
             for group, values in PATTERNS.items()}

LATEST_OFFLINE = 20 * 60 + 30  # DOMAIN.md: offline classes end by 20:30
_AGE = re.compile(r"(?<!\d)(\d{1,2})\s*[-~至到]\s*(\d{1,2})\s*(?:周)?岁")

# Labels of field templates: job boards, classified sites, directories, texted promotions.
FIELD_LABELS = (
    "岗位职责", "岗位要求", "岗位说明", "岗位描述", "任职要求", "任职资格", "职位描述", "职位详情",
    "职位要求", "工作内容", "工作职责", "工作时间", "工作地点", "公司类型", "公司名称", "公司介绍",
    "公司", "行业", "规模", "融资", "不需要融资", "未融资", "薪资", "待遇", "地区", "上课方式",
    "到岗", "福利", "标签", "服务内容", "服务范围", "服务类型", "发布者", "联系人", "联系方式",
    "所在地", "今日活跃", "刚刚活跃", "日内活跃", "活跃", "回t退订", "回td退订", "退订回t",
    "拒收请回复r", "回复td退订", "详情", "学历", "经验不限", "学历不限", "立即到岗", "boss",
    "应用简介", "应用介绍", "版本", "更新内容", "开发者", "评分", "下载", "营业时间", "人均",
)
_KEYWORD_PATTERNS = tuple(re.compile(re.escape(word)) for word in KEYWORDS)
_LABELS = re.compile("|".join(sorted(map(re.escape, FIELD_LABELS), key=len, reverse=True)))


def strip_field_labels(text: str) -> str:
    """``text`` without the labels of field templates (``岗位职责``, ``服务范围``, ``回T退订``…), so
    that word and character features see what the fields say, not which template holds them."""
    return _LABELS.sub(" ", text)


def _ages(text: str) -> set[str]:
    bands = set()
    for match in _AGE.finditer(text):
        low, high = int(match.group(1)), int(match.group(2))
        if low > high or high > 60:
            continue
        if low < 6:
            bands.add("preschool")
        if low <= 12 and high >= 6:
            bands.add("primary")
        if low <= 15 and high >= 13:
            bands.add("junior")
        if 15 <= high <= 18 or 15 <= low <= 18:
            bands.add("senior")
        if low >= 18:
            bands.add("adult")
    return bands


def field_values(text: str) -> dict[str, float]:
    """The fields found in one normalised text, ``{"group=value": 1.0, …}``, and their
    conjunctions (``offer:…``)."""
    found = {group: {value for value, pattern in values.items() if pattern.search(text)}
             for group, values in _COMPILED.items()}
    found["audience"] |= _ages(text)
    latest = latest_time(text)
    holiday, weekend = calendar_hits(text)  # dates that fall on one
    if latest is not None and latest > LATEST_OFFLINE:
        found["time"].add("after_20:30")
    if weekend:
        found["time"].add("weekend")
    if holiday:
        found["time"].add("holiday")
    timing = found["time"]
    out = {f"{group}={value}": 1.0 for group, values in found.items() for value in values}
    hits = sum(1 for word in KEYWORDS if word in text)
    out["keywords"] = min(hits, 4) / 4.0
    school_age = found["audience"] & {"primary", "junior", "senior"}
    school_subject = "school" in found["subject"]
    teaching = found["service"] & {"lessons", "homework_teaching"}
    conjunctions = {
        "school_age+subject": bool(school_age and school_subject),
        "school_age+subject+teaching": bool(school_age and school_subject and teaching),
        "preschool+subject": "preschool" in found["audience"] and school_subject,
        "homework_teaching+school_age": "homework_teaching" in found["service"]
                                        and bool(school_age),
        "care+homework_teaching": "care" in found["service"]
                                  and "homework_teaching" in found["service"]
                                  and "supervision_only" not in found["service"],
        "tutoring_employer+staff": bool(found["employer"] & {"tutoring_firm", "consultancy",
                                                              "care_centre"})
                                   and bool(found["role"]),
        "tutoring_employer+school_age": bool(found["employer"] & {"tutoring_firm", "consultancy"})
                                        and bool(school_age),
        "sales_staff+school_age": "sales_or_class_staff" in found["role"] and bool(school_age),
        "subject+timing": school_subject and bool(timing),
        "diagnosis+subject": "diagnosis" in found["service"] and school_subject,
        "housekeeping+teaching": "housekeeping" in found["employer"] and bool(teaching),
        "camp+subject+school_age": "camp" in found["service"] and school_subject
                                   and bool(school_age),
        "asks_without_price": bool(found["asks"]) and not found["price"],
        "reports_without_price": bool(found["reports"]) and not found["price"],
    }
    out.update({f"offer:{name}": 1.0 for name, present in conjunctions.items() if present})
    return out


def field_dicts(texts: Iterable[str]) -> list[dict[str, float]]:
    """:func:`field_values` of each normalised text, for a ``DictVectorizer``."""
    return [field_values(text) for text in texts]


_TIME = "time"  # the plan of a time field: late clock times, else dated days


@cache
def _field_plan(name: str) -> tuple[re.Pattern[str], ...] | str:
    """The patterns whose spans, in this order, are the spans of the field feature ``name`` (or
    :data:`_TIME`), worked out once per name."""
    group, _, value = name.partition("=")
    if group in _COMPILED and value in _COMPILED[group]:
        return (_COMPILED[group][value],)
    if group == "audience":
        return (_AGE,)
    if group == "time":
        return _TIME
    if name == "keywords":
        # each keyword's matches, in the order of KEYWORDS (a literal match is as long as it)
        return _KEYWORD_PATTERNS
    plan: list[re.Pattern[str]] = []
    if name.startswith("offer:"):
        parts = set(re.split(r"[+:_]", name))
        for grp, values in _COMPILED.items():
            for val, pattern in values.items():
                if val in parts or grp in parts or (val == "school" and "subject" in parts):
                    plan.append(pattern)
    return tuple(plan)


def field_spans(text: str, name: str, limit: int | None = None) -> list[tuple[int, int]]:
    """Spans of normalised ``text`` that make the field feature ``name`` (``group=value``, or a
    conjunction ``offer:a+b``) fire, for evidence (with ``limit``, the first ``limit``)."""
    plan = _field_plan(name)
    if plan is _TIME:  # a clock time after 20:30, or a date on a weekend or holiday
        return (rule_spans(text, "late:offline_after_20:30", limit)
                or rule_spans(text, "calendar:date", limit))
    return spans_of(plan, text, limit)
