"""Places of ads (issue 19, points 3-5): parsing, storing, the jurisdiction, the queue's place
filters, the township table, the digests, and the place fields of exports and the API."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from crawler.config import ConfigError, parse_source_text
from review_ui.exports import write_csv, write_jsonl
from review_ui.models import Ad, ReviewItem, Source
from review_ui.places.digests import send_due_digests
from review_ui.places.jurisdiction import envjurisdiction
from review_ui.places.models import DigestSubscription
from review_ui.places.parser import parse_place, parse_region
from tests.review_ui.conftest import CONFIRM, make_item

TIANXIN = parse_region("430103")


# --- The parser (no database) ------------------------------------------------------------------


def test_it_reads_province_city_district_and_township_from_an_address_line():
    place = parse_place("初中数学一对一", "地址：长沙市天心区暮云街道芙蓉南路100号")
    assert place.as_dict() == {
        "province": "湖南省",
        "city": "长沙市",
        "district": "天心区",
        "township": "暮云街道",
    }
    assert place.district_code == "430103"


def test_an_address_naming_two_districts_gives_no_district_and_says_why():
    place = parse_place("上门家教", "服务区域：长沙市天心区、雨花区均可上门")
    assert (place.city, place.district, place.township) == ("长沙市", "", "")
    assert "天心区" in place.note and "雨花区" in place.note


def test_the_source_region_fills_what_the_ad_leaves_out():
    assert parse_place("周末补课", "电话 13900000000").empty
    place = parse_place("周末补课", "电话 13900000000", default=parse_region("长沙市天心区"))
    assert (place.province, place.city, place.district) == ("湖南省", "长沙市", "天心区")


def test_a_later_line_naming_another_city_does_not_move_the_ad():
    place = parse_place("英语老师", "＊朝天校区\n地址：荔湾区中山八路12号", region="广东-广州")
    assert (place.city, place.district) == ("广州市", "荔湾区")


@pytest.mark.parametrize(
    "line",
    [
        "长沙市天心区暮云街道芙蓉南路100号",
        "湖南省长沙市",
        "长沙-雨花区",
        "广东-广州",
        "武昌 洪山",
        "北海市重庆路其仓11号",  # a city's short name before 路 is not that city
        "上海市嘉定区太原路99号",
        "青海西宁城中区",
        "柳州地区忻城县",  # a former division
        "姑苏/沧浪/金阊/平江园区",
        "初中数学一对一",
        "",
    ],
)
def test_the_narrowed_parser_reads_what_jionlp_reads(line):
    from review_ui.places.parser import _jionlp, _location_parser

    levels = ("province", "city", "county", "detail")
    ours, theirs = _location_parser()(line), _jionlp().parse_location(line, change2new=True)
    assert {k: ours.get(k) for k in levels} == {k: theirs.get(k) for k in levels}


def test_the_jurisdiction_is_read_strictly(monkeypatch):
    monkeypatch.setenv("TUTORWATCH_JURISDICTION", "火星区")
    with pytest.raises(ImproperlyConfigured, match="TUTORWATCH_JURISDICTION"):
        envjurisdiction("TUTORWATCH_JURISDICTION")
    monkeypatch.setenv("TUTORWATCH_JURISDICTION", "长沙市天心区")
    assert envjurisdiction("TUTORWATCH_JURISDICTION").district_code == "430103"
    monkeypatch.delenv("TUTORWATCH_JURISDICTION")
    assert envjurisdiction("TUTORWATCH_JURISDICTION") is None


SOURCE = """name: county_forum
kind: html
start_urls: ["http://127.0.0.1/forum"]
region: {region}
list: {{links: "a::attr(href)"}}
detail: {{title: "h1::text", body: "div.post"}}
"""


def test_a_source_region_must_name_a_division():
    assert parse_source_text(SOURCE.format(region="长沙市天心区"), "s.yaml").raw["region"]
    with pytest.raises(ConfigError, match="key 'region'.*names no province"):
        parse_source_text(SOURCE.format(region="不存在的地方"), "s.yaml")
    with pytest.raises(ConfigError, match="key 'region'"):
        parse_source_text(SOURCE.format(region="42"), "s.yaml")


# --- Stored ads -------------------------------------------------------------------------------


@pytest.fixture
def placed(db):
    make_item(
        url="http://127.0.0.1/p/1",
        title="暮云初中数学",
        text="地址：长沙市天心区暮云街道某小区",
        score=0.95,
    )
    make_item(
        url="http://127.0.0.1/p/2",
        title="坡子街英语托管",
        text="地址：长沙市天心区坡子街街道黄兴南路",
        score=0.9,
    )
    make_item(
        url="http://127.0.0.1/p/3",
        title="岳麓区物理",
        text="地址：长沙市岳麓区麓山南路",
        score=0.85,
    )
    make_item(url="http://127.0.0.1/p/4", title="不知何处的辅导", text="电话联系", score=0.8)
    return {ad.title: ad for ad in Ad.objects.all()}


def test_the_place_is_parsed_at_store_time(placed):
    ad = placed["暮云初中数学"]
    assert (ad.province, ad.city, ad.district, ad.township) == (
        "湖南省",
        "长沙市",
        "天心区",
        "暮云街道",
    )
    assert placed["不知何处的辅导"].district == ""


def test_the_source_yaml_region_is_the_default(db):
    Source.objects.create(name="test_site", kind="html", config={"region": "长沙市天心区"})
    make_item(url="http://127.0.0.1/d/1", title="周末补课", text="电话联系")
    ad = Ad.objects.get()
    assert (ad.city, ad.district) == ("长沙市", "天心区")


def test_the_backfill_parses_ads_stored_without_a_place(placed):
    Ad.objects.update(province="", city="", district="", township="", place_note="")
    out = io.StringIO()
    call_command("places", "backfill", stdout=out)
    assert "4 ads read, 3 given a new place" in out.getvalue()
    assert Ad.objects.get(title="坡子街英语托管").township == "坡子街街道"


def test_exports_and_the_api_carry_the_place(placed, officer, officer_client):
    out = io.BytesIO()
    write_jsonl(out)
    rows = {r["title"]: r for r in map(json.loads, out.getvalue().decode().splitlines())}
    assert {k: rows["暮云初中数学"][k] for k in ("province", "city", "district", "township")} == {
        "province": "湖南省",
        "city": "长沙市",
        "district": "天心区",
        "township": "暮云街道",
    }
    out = io.BytesIO()
    write_csv(out)
    header = out.getvalue().decode("utf-8-sig").splitlines()[0].split(",")
    assert header[-4:] == ["province", "city", "district", "township"]
    from rest_framework.authtoken.models import Token

    token = Token.objects.get_or_create(user=officer)[0]
    ad = placed["岳麓区物理"]
    data = officer_client.get(f"/api/v1/ads/{ad.pk}/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert data.status_code == 200
    assert data.json()["district"] == "岳麓区" and data.json()["township"] == ""


def titles(client, **query) -> list[str]:
    page = client.get(reverse("review_ui:queue"), {"status": "all", **query})
    assert page.status_code == 200
    return sorted(
        t
        for t in ("暮云初中数学", "坡子街英语托管", "岳麓区物理", "不知何处的辅导")
        if t in page.content.decode()
    )


def test_the_queue_filters_by_district_township_and_jurisdiction(placed, officer_client, settings):
    settings.TUTORWATCH_JURISDICTION = TIANXIN
    assert titles(officer_client, district="天心区") == ["坡子街英语托管", "暮云初中数学"]
    assert titles(officer_client, township="暮云街道") == ["暮云初中数学"]
    assert titles(officer_client, jurisdiction="outside") == ["岳麓区物理"]
    assert titles(officer_client, jurisdiction="unknown") == ["不知何处的辅导"]
    page = officer_client.get(reverse("review_ui:queue"), {"status": "all"}).content.decode()
    assert page.count('class="outside"') == 1
    bad = officer_client.get(reverse("review_ui:queue"), {"jurisdiction": "nowhere"})
    assert bad.status_code == 400


def test_the_township_table_counts_flagged_confirmed_and_open(
    placed, officer_client, supervisor_client, settings
):
    settings.TUTORWATCH_JURISDICTION = TIANXIN
    item = ReviewItem.objects.get(ad=placed["暮云初中数学"])
    officer_client.post(reverse("review_ui:claim", args=[item.pk]))
    officer_client.post(reverse("review_ui:decide", args=[item.pk]), CONFIRM)
    assert officer_client.get(reverse("review_ui:townships")).status_code == 403
    page = supervisor_client.get(reverse("review_ui:townships"))
    assert page.status_code == 200
    rows = {(r.township): (r.flagged, r.confirmed, r.open) for r in page.context["rows"]}
    assert rows["暮云街道"] == (1, 1, 0)
    assert rows["坡子街街道"] == (1, 0, 1)
    assert rows["黑石铺街道"] == (0, 0, 0)  # every township of the county is listed
    assert "岳麓区" not in page.content.decode()  # outside the jurisdiction


def _places_msgids() -> list[str]:
    """The English text of every string of these pages (msgctxt "places" in the catalogue)."""
    po = Path(__file__).parents[2] / "review_ui/locale/zh_Hans/LC_MESSAGES/django.po"
    found = re.findall(r'^msgctxt "places"\nmsgid "(.+)"', po.read_text(encoding="utf-8"), re.M)
    return [m.split("%(")[0].strip() for m in found if len(m) > 3]


def test_the_place_pages_speak_chinese(placed, officer_client, supervisor_client, settings):
    settings.TUTORWATCH_JURISDICTION = TIANXIN
    officer_client.post(
        reverse("review_ui:digest_subscriptions"),
        {"district": "天心区", "frequency": "daily", "channel": "email", "min_score": "0.8"},
    )
    pages = {
        "townships": supervisor_client.get(reverse("review_ui:townships")),
        "queue": officer_client.get(reverse("review_ui:queue"), {"status": "all"}),
        "digests": officer_client.get(reverse("review_ui:digest_subscriptions")),
        "invalid": officer_client.post(
            reverse("review_ui:digest_subscriptions"), {"district": "火星区", "min_score": "2"}
        ),
    }
    english = _places_msgids()
    assert "Townships" in english and "outside the jurisdiction" in english
    for name, page in pages.items():
        shown = re.sub(r"<(script|style)\b.*?</\1>|<[^>]*>", " ", page.content.decode(), flags=re.S)
        assert [m for m in english if re.search(rf"\b{re.escape(m)}\b", shown)] == [], name
    assert "辖区外" in pages["queue"].content.decode()  # the out-of-jurisdiction mark
    assert "全部乡镇" in pages["digests"].content.decode()
    assert "辖区内没有这个名称的区县" in pages["invalid"].content.decode()
    assert "暮云街道" in pages["townships"].content.decode()


# --- Digests ----------------------------------------------------------------------------------


def test_a_digest_lists_new_items_of_the_townships_by_title_and_link(
    placed, officer, settings, webhook
):
    settings.TUTORWATCH_ALERT_WEBHOOK = webhook.url
    settings.TUTORWATCH_UI_URL = "https://tw.example.gov.cn"
    earlier = timezone.now() - timedelta(hours=2)
    subscription = DigestSubscription.objects.create(
        user=officer,
        district="天心区",
        townships=["暮云街道"],
        channel="webhook",
        frequency="hourly",
        min_score=0.9,
        covered_until=earlier,
        created_at=earlier,
    )
    [outcome] = send_due_digests()
    assert outcome.items == 1 and outcome.outcome == "已发送到机器人"
    [posted] = webhook.received
    content = posted["json"]["text"]["content"]
    ad = placed["暮云初中数学"]
    assert "暮云初中数学" in content and f"https://tw.example.gov.cn/ads/{ad.pk}/" in content
    assert "坡子街英语托管" not in content and "地址" not in content  # no ad text
    assert "摘要" in content
    assert send_due_digests() == []  # not due again within the hour
    subscription.refresh_from_db()
    assert subscription.last_sent_at is not None


def test_a_digest_that_fails_covers_the_same_items_next_time(placed, officer, settings):
    settings.TUTORWATCH_ALERT_WEBHOOK = ""
    earlier = timezone.now() - timedelta(days=2)
    subscription = DigestSubscription.objects.create(
        user=officer, district="天心区", channel="webhook", covered_until=earlier
    )
    [outcome] = send_due_digests()
    assert outcome.outcome.startswith("发送失败：未配置机器人")
    subscription.refresh_from_db()
    assert subscription.covered_until == earlier and subscription.last_sent_at is None


def test_officers_manage_their_own_subscriptions(
    officer_client, second_officer_client, outsider_client, db
):
    url = reverse("review_ui:digest_subscriptions")
    assert outsider_client.get(url).status_code == 403
    bad = officer_client.post(
        url,
        {
            "district": "天心区",
            "townships": "火星街道",
            "frequency": "daily",
            "channel": "email",
            "min_score": "0.8",
        },
    )
    assert bad.status_code == 400 and DigestSubscription.objects.count() == 0
    done = officer_client.post(
        url,
        {
            "district": "天心区",
            "townships": "暮云街道、青园街道",
            "frequency": "daily",
            "channel": "email",
            "min_score": "0.8",
        },
    )
    assert done.status_code == 302
    subscription = DigestSubscription.objects.get()
    assert subscription.townships == ["暮云街道", "青园街道"]
    unsubscribe = reverse("review_ui:digest_unsubscribe", args=[subscription.pk])
    assert second_officer_client.post(unsubscribe).status_code == 404
    assert officer_client.get(unsubscribe).status_code == 405
    assert officer_client.post(unsubscribe).status_code == 302
    assert DigestSubscription.objects.count() == 0


def test_the_scheduler_runs_the_digest_job_on_its_cron(placed, officer, settings, webhook):
    from crawler.config import BUNDLED_DIR
    from review_ui.scheduling import digest_command

    settings.TUTORWATCH_REDIS_URL = ""
    # In production the scheduler refuses to run without a sources directory of the bureau's own.
    settings.TUTORWATCH_SOURCES_DIR = str(BUNDLED_DIR)
    settings.TUTORWATCH_DIGEST_SCHEDULE = "30 7 * * *"
    out = io.StringIO()
    call_command("schedule", "--check", stdout=out)
    [line] = [row for row in out.getvalue().splitlines() if row.startswith("(digests)\t")]
    assert line.startswith("(digests)\tdigest\t30 7 * * *\tnext ") and " 07:30 " in line
    settings.TUTORWATCH_DIGEST_SCHEDULE = ""  # unset: no digest job
    out = io.StringIO()
    call_command("schedule", "--check", stdout=out)
    assert "(digests)" not in out.getvalue() and "all good" in out.getvalue()
    # What the job runs: every due digest is sent.
    settings.TUTORWATCH_ALERT_WEBHOOK = webhook.url
    DigestSubscription.objects.create(
        user=officer,
        district="天心区",
        channel="webhook",
        covered_until=timezone.now() - timedelta(days=2),
    )
    assert digest_command()[-2:] == ["digests", "send"]
    out = io.StringIO()
    call_command(*digest_command()[-2:], stdout=out)
    assert "2 items, 已发送到机器人" in out.getvalue() and "1 digests due" in out.getvalue()
    assert len(webhook.received) == 1


def test_a_bare_city_name_names_the_city_not_a_county_of_that_name():
    assert parse_region("长沙").as_dict()["city"] == "长沙市"
    assert parse_region("长沙").district == ""
    assert parse_region("长沙县").district == "长沙县"
    assert parse_region("长沙市").city == "长沙市"
