"""Rule features from DOMAIN.md, computed on normalised text.

Each cue is a named regular expression; the features are whether each cue is present, their
co-occurrence (disguise form × subject × grade, the core of a covert ad), the timing rules
(offline classes ending after 20:30, online after 21:00, weekends, legal holidays and 寒暑假,
with dates checked against chinese-calendar) and news / notice cues that mark reports about the
crackdown. ``rule_features`` is a named module-level function so a saved model refers to it by
a stable name (it is in the model's trusted types); ``rule_spans`` gives the matched spans, for
explanations.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from functools import cache, lru_cache

import numpy as np
from scipy import sparse

CUES: dict[str, str] = {
    "subject": r"语文|数学|英语|物理|化学|生物|历史|地理|政治|道法|道德与法治|奥数|作文|阅读理解"
               r"|古诗文|文言文|自然拼读|新概念|单词|语法|口算|应用题|方程|几何|函数|拼音|识字"
               r"|算术|理科|文科|语数外|语数英|数理化|全科|大语文|思维训练|数学思维",
    "grade": r"[一二三四五六七八九]年级|初[一二三]|高[一二三]|小学|初中|高中|小升初|初升高|中考"
             r"|高考|幼小衔接|学前班|k12|中小学|小初高|小初|初高中|一至六年级|1-6年级|六年级"
             r"|毕业班",
    "teaching": r"辅导|讲解|讲题|讲课|授课|上课|补习|补课|培优|补差|提分|提高成绩|预习|复习|新课"
                r"|同步|答疑|批改|刷题|冲刺|押题|一对一|一对多|小班|精品班|陪读|陪学|督学|教学"
                r"|课程|课时",
    "form_care": r"托管|晚托|午托|全托|看护|接送",
    "form_study_room": r"自习室|学习室|自习馆|书房|学习空间",
    "form_housekeeping": r"家政|住家|保姆|育儿嫂|管家|阿姨|上户",
    "form_camp": r"研学|夏令营|冬令营|营地|游学|训练营|集训营",
    "form_consulting": r"咨询|学习规划|学业规划|测评|诊断|素质教育|素养|思维|国学|会员|文化传播",
    "form_online": r"线上|网课|直播|录播|视频|腾讯会议|钉钉|zoom|在线|远程|网络课",
    "private": r"上门|家教|私教|拼班|拼课|凑班|小组课|在家|居民楼|小区|工作室|名额有限|私信|私聊"
               r"|私我",
    "recruit": r"招聘|诚聘|招募|急招|岗位职责|任职要求|薪资|底薪|课时费|兼职|全职|待遇|月薪",
    "institution": r"培训|机构|教育科技|教育咨询|学堂|学苑|书院|托管中心|辅导中心|工作室|学习中心",
    "school_employer": r"学校|公办|民办|九年制|完全中学|实验中学|实验小学|编制|教育局",
    "teacher_credential": r"名师|特级|骨干|教师资格|985|211|师范|清华|北大|清北|学霸|在职|重点中学"
                          r"|教研",
    "outcome": r"提分|保分|包过|排名|升学|名校|录取|状元|满分|不学就|落后|逆袭|保\d+",
    "price": r"\d+\s*(?:元|块|rmb)|(?:元|块)\s*/\s*(?:小时|节|课时|次|月|天)|收费|学费|费用|价格",
    "prepaid": r"课时包|课时卡|次卡|年卡|月卡|会员卡|充值|预存|储值|包月|学期|季卡|套餐|分期",
    "contact": r"微信|qq|电话|手机|联系|咨询热线|\b1[3-9]\d{9}\b|私信|私聊|加我|扫码",
    "holiday_words": r"寒假|暑假|寒暑假|假期|国庆|五一|春节|元旦|清明|端午|中秋|小长假|法定节假日",
    "weekend_words": r"周末|周六|周日|星期六|星期天|星期日|礼拜六|礼拜天|双休",
    "news": r"严禁|查处|举报电话|举报|通报|教育局|记者|据了解|专项治理|整治|依法|违规|执法|取缔"
            r"|双减|通知|公告|提醒|曝光|处罚|责令|排查|监管|校外培训机构|根据.*规定|有关部门",
    "pure_care_negation": r"不讲课|不辅导|不涉及学科|只看管|不补课|不教学|不上课|仅看护|纯看护"
                          r"|只负责接送|不提供.{0,6}辅导|不讲题|不批改",
    "adult": r"考研|四六级|公务员|考公|教资|教师资格证考试|成人|大学生|会计|驾校|雅思|托福|专升本"
             r"|自考|职业技能|在职研究生|考证|mba",
    "non_subject": r"美术|绘画|舞蹈|钢琴|书法|硬笔|声乐|乐器|吉他|架子鼓|篮球|足球|游泳|跆拳道"
                   r"|武术|围棋|象棋|编程|机器人|乐高|科学实验|轮滑|羽毛球|口才|主持|体能|拉丁"
                   r"|芭蕾|街舞|尤克里里",
    "inquiry": r"求推荐|有没有|请问|求助|哪里有|怎么办|靠谱吗|谁知道|有推荐|求问|吗[?？]|大家觉得"
               r"|避雷",
    "school_service": r"课后服务|延时服务|校内托管|学校组织|少年宫|社区托管|公益|免费托管|成本价",
    "unrelated": r"出租|转让|出售|二手|回收|维修|搬家|保洁|装修|开锁|疏通|代理记账|注册公司|招租"
                 r"|房源",
}
_COMPILED = {name: re.compile(pattern) for name, pattern in CUES.items()}
_FORMS = [name for name in CUES if name.startswith("form_")]

# Times such as 20:40, 21点, 晚上9点半, 晚8:30-9:30; the end of a range is what counts.
_CLOCK = re.compile(
    r"(?P<evening>晚上?|夜里?|pm)?\s*(?P<h>\d{1,2})\s*(?:[:：点时](?P<m>\d{1,2}|半)?)(?:分)?"
)
_DATE = re.compile(
    r"(?:(?P<y>20\d\d)\s*[年./-])?\s*(?P<m>\d{1,2})\s*[月./-]\s*(?P<d>\d{1,2})\s*[日号]?"
)

NAMES: list[str] = (
    [f"cue:{name}" for name in CUES]
    + [f"form+subject+grade:{form}" for form in _FORMS]
    + ["subject+grade", "subject+teaching", "subject+grade+teaching", "private+subject",
       "recruit+subject+institution", "recruit+subject+school", "online+subject",
       "late:offline_after_20:30", "late:online_after_21:00", "calendar:holiday_date",
       "calendar:weekend_date", "timing+subject", "news_density", "length_log"]
)


def _minutes(match: re.Match[str], evening: bool = False) -> int | None:
    hour = int(match.group("h"))
    minute = match.group("m")
    minute = 30 if minute == "半" else int(minute) if minute else 0
    if hour > 24 or minute > 59:
        return None
    if (match.group("evening") or evening) and hour < 12:
        hour += 12
    return hour * 60 + minute


@lru_cache(maxsize=256)
def pattern_spans(pattern: re.Pattern[str], text: str) -> tuple[tuple[int, int], ...]:
    """The spans of ``pattern``'s matches in ``text``, kept for the last texts asked about: the
    evidence of one ad asks the same pattern of the same text for several features."""
    return tuple(m.span() for m in pattern.finditer(text))


# The features and the fields of a batch (rules for every text, then fields for every text)
# and then its evidence ask for the same text's times and dates: kept for a batch of 256 and
# more. The results are immutable and depend on the text (and the year) alone.
@lru_cache(maxsize=512)
def _evening_times(text: str) -> tuple[tuple[re.Match[str], int], ...]:
    """Clock times with their minutes; after 晚/夜 or an afternoon time, a small hour is p.m.
    ("晚7点到9点半" ends at 21:30)."""
    found = []
    evening = False
    for match in _CLOCK.finditer(text):
        minutes = _minutes(match, evening)
        if minutes is None:
            continue
        evening = minutes >= 17 * 60
        found.append((match, minutes))
    return tuple(found)


def latest_time(text: str) -> int | None:
    """The latest afternoon or evening clock time mentioned, in minutes after midnight."""
    times = [m for _, m in _evening_times(text) if 12 * 60 <= m <= 24 * 60]
    return max(times) if times else None


def calendar_hits(text: str, today: dt.date | None = None) -> tuple[bool, bool]:
    """Whether a date in the text falls on a legal holiday, and whether on a weekend (checked
    with chinese-calendar; a date without a year is taken in the current year)."""
    return _calendar_hits(text, (today or dt.date.today()).year)


@lru_cache(maxsize=512)
def _calendar_hits(text: str, year: int) -> tuple[bool, bool]:
    import chinese_calendar

    holiday = weekend = False
    for match in _DATE.finditer(text):
        try:
            day = dt.date(
                int(match.group("y") or year), int(match.group("m")), int(match.group("d"))
            )
        except ValueError:
            continue
        if day.weekday() >= 5:
            weekend = True
        try:
            if chinese_calendar.is_holiday(day) and day.weekday() < 5:
                holiday = True
        except NotImplementedError:  # a year chinese-calendar has no data for
            continue
    return holiday, weekend


def _row(text: str) -> list[float]:
    present = {name: bool(pattern.search(text)) for name, pattern in _COMPILED.items()}
    subject, grade, teaching = present["subject"], present["grade"], present["teaching"]
    latest = latest_time(text)
    holiday, weekend = calendar_hits(text)
    timing = present["holiday_words"] or present["weekend_words"] or holiday or weekend
    news_hits = len(_COMPILED["news"].findall(text))
    values = [float(present[name]) for name in CUES]
    values += [float(present[form] and subject and grade) for form in _FORMS]
    values += [
        float(subject and grade),
        float(subject and teaching),
        float(subject and grade and teaching),
        float(present["private"] and subject),
        float(present["recruit"] and subject and present["institution"]),
        float(present["recruit"] and subject and present["school_employer"]),
        float(present["form_online"] and subject),
        float(latest is not None and latest > 20 * 60 + 30),
        float(latest is not None and latest > 21 * 60 and present["form_online"]),
        float(holiday),
        float(weekend),
        float(timing and subject),
        min(news_hits / 3.0, 2.0),
        np.log1p(len(text)) / 7.0,
    ]
    return values


def rule_features(texts: Iterable[str]) -> sparse.csr_matrix:
    """The rule feature matrix of normalised texts (one row a text, columns as :data:`NAMES`)."""
    rows = [_row(text) for text in texts]
    return sparse.csr_matrix(np.asarray(rows, dtype=np.float64).reshape(len(rows), len(NAMES)))


_LATE = "late"  # the plan of a timing feature: the clock times after 20:30


@cache
def _rule_plan(name: str) -> tuple[re.Pattern[str], ...] | str:
    """The patterns whose spans, in this order, are the spans of the rule feature ``name`` (or
    :data:`_LATE`), worked out once per name."""
    kind, _, rest = name.partition(":")
    if kind == "cue" and rest in _COMPILED:
        return (_COMPILED[rest],)
    if kind.startswith("late"):
        return _LATE
    if kind.startswith("calendar"):
        return (_DATE,)
    cues = [part for part in re.split(r"[+:]", name) if part in _COMPILED]
    cues += [form for form in _FORMS if form in name]
    aliases = {"online": "form_online", "timing": "holiday_words"}
    cues += [aliases[part] for part in re.split(r"[+:]", name) if part in aliases]
    return tuple(_COMPILED[cue] for cue in dict.fromkeys(cues))


def spans_of(plan: tuple[re.Pattern[str], ...], text: str,
             limit: int | None = None) -> list[tuple[int, int]]:
    """The spans of each pattern of ``plan`` in ``text``, one pattern after the other; with
    ``limit``, the first ``limit`` of them (the later patterns are not asked)."""
    spans: list[tuple[int, int]] = []
    for pattern in plan:
        spans += pattern_spans(pattern, text)
        if limit is not None and len(spans) >= limit:
            return spans[:limit]
    return spans


def rule_spans(text: str, name: str, limit: int | None = None) -> list[tuple[int, int]]:
    """Spans of normalised ``text`` that make the rule feature ``name`` fire (with ``limit``,
    the first ``limit`` of them)."""
    plan = _rule_plan(name)
    if plan is _LATE:
        spans = [match.span() for match, m in _evening_times(text) if m > 20 * 60 + 30]
        return spans if limit is None else spans[:limit]
    return spans_of(plan, text, limit)
