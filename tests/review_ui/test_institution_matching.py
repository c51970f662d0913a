"""Ads matched to the licensing lists: brand names normalised and fuzzy-matched with the score
shown, contacts through the index, the matches stored and read again only when the ad or the
lists change; the ad page's status and scope, the queue's badge, the exports and the API."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from review_ui.exports import FLAT_FIELDS, write_csv, write_jsonl, write_xlsx
from review_ui.institutions import matching
from review_ui.institutions.models import AdInstitutionCheck, InstitutionMatch
from review_ui.institutions.names import NameIndex, brand_of, candidates_in
from review_ui.institutions.scope import class_end, problems
from review_ui.models import Ad, Institution
from tests.review_ui.conftest import make_item

QIHANG = "长沙市天心区启航教育培训学校有限公司"


# --- Names, without the store --------------------------------------------------------------------

@pytest.mark.parametrize("name, brand, regions", [
    (QIHANG, "启航", "长沙/天心"),
    ("XX市启航教育培训学校有限公司", "xx市启航", ""),  # "XX" is no region: kept
    ("湖南新东方培训学校", "新东方", "湖南"),
    ("长沙市学而思教育科技有限公司（五一校区）", "学而思", "长沙"),
    ("小天才英语培训中心", "小天才英语", ""),
    ("城市之光教育", "城市之光", ""),  # 城市 is not a city
])
def test_a_listed_name_becomes_its_brand_and_regions(name, brand, regions):
    assert brand_of(name) == (brand, regions)


def test_an_ad_names_a_brand_before_an_institution_word():
    found = {c.brand: c.region for c in candidates_in("暑假火热招生！欢迎来到长沙启航教育，"
                                                      "我们的明德艺术中心", ["长沙"])}
    assert found.get("启航") == "长沙" and "明德" in found
    # A character that is part of another brand is not cut: 新启航 is not 启航.
    assert "启航" not in {c.brand for c in candidates_in("报名新启航教育")}


def index_of(*names: str) -> NameIndex:
    return NameIndex([(pk, *brand_of(name)) for pk, name in enumerate(names, start=1)])


def test_exact_brands_score_100_and_near_ones_their_ratio_or_nothing():
    index = index_of(QIHANG, "株洲市启航教育咨询有限公司", "长沙新启航文化艺术培训中心",
                     "长沙市小天才英语培训中心")
    assert [(m.institution_id, m.score) for m in index.match("启航教育，暑期班")] == [
        (1, 100.0), (2, 100.0)]  # two institutions share the brand: both shown, none hidden
    assert [m.institution_id for m in index.match("株洲启航教育招生")] == [2]
    assert [m.institution_id for m in index.match("长沙启航教育")] == [1]
    assert [m.institution_id for m in index.match("天心区启航教育")] == [1]
    assert [m.institution_id for m in index.match("新启航艺术培训")] == [3]
    near = index.match("小天才英语教育中心")
    assert near[0].institution_id == 4 and near[0].score == 100.0
    assert index.match("小天才英文培训") == []  # 80: under the threshold
    assert index.match("这里没有机构名") == []


def test_a_district_fits_the_city_the_list_puts_it_in():
    index = index_of("长沙市思远课外辅导中心", "长沙市天心区明德培训学校", "株洲市思远教育")
    # 天心 is in 长沙 (the second name says so): the first institution, not 株洲's.
    assert [m.institution_id for m in index.match("天心区思远培训中心")] == [1]
    assert [m.institution_id for m in index.match("株洲思远教育")] == [3]


def test_the_scope_and_the_time_rules():
    assert class_end("晚上7点-9点") == (21, 0) and class_end("19:00-20:30") == (20, 30)
    kinds = [p.kind for p in problems("文化艺术类：美术、舞蹈", "暑假数学班 晚上7点-9点")]
    assert kinds == ["subject", "late", "rest_day"]
    assert problems("学科类：数学、英语", "数学 周一至周五 18:00-20:00") == []
    assert [p.detail for p in problems("学科类：数学、英语", "数学物理 18:00-20:00")] == ["物理"]


# --- In the store ---------------------------------------------------------------------------------

@pytest.fixture
def listed(db):
    licensed = Institution.objects.create(name=QIHANG, kind="licensed",
                                          scope="文化艺术类：美术、舞蹈")
    banned = Institution.objects.create(name="长沙市博学托管中心", kind="blacklisted",
                                        phones=["13700001111"])
    return licensed, banned


@pytest.mark.django_db
def test_an_ad_is_matched_by_contact_and_by_name_with_method_and_score(listed):
    licensed, banned = listed
    by_name = make_item(url="http://127.0.0.1/n", title="启航教育数学提高班",
                        text="晚上7点-9点上课", phones=["13600000000"], wechat_ids=[])
    by_phone = make_item(url="http://127.0.0.1/p", title="托管", text="电话 13700001111",
                         phones=["13700001111"], wechat_ids=[])
    nothing = make_item(url="http://127.0.0.1/x", title="家教", text="无名", phones=[],
                        wechat_ids=[])
    ads = list(Ad.objects.filter(pk__in=[by_name.ad_id, by_phone.ad_id, nothing.ad_id]))
    found = matching.statuses(ads, with_scope=True)
    one = found[by_name.ad_id]
    assert one.status == "licensed" and one.best.institution == licensed
    assert (one.best.method, one.best.score) == ("name", 100.0)
    assert len(one.scope_problems) == 2  # 数学 is outside arts; classes end at 21:00
    two = found[by_phone.ad_id]
    assert (two.status, two.best.institution, two.best.method) == ("blacklisted", banned,
                                                                    "phone")
    assert found[nothing.ad_id].status == "" and found[nothing.ad_id].matches == []


@pytest.mark.django_db
def test_matches_are_stored_and_read_again_only_when_the_lists_or_the_ad_change(listed):
    result = make_item(url="http://127.0.0.1/s", title="启航教育", text="x", phones=[],
                       wechat_ids=[])
    ad = Ad.objects.get(pk=result.ad_id)
    matching.statuses([ad])
    check = AdInstitutionCheck.objects.get(ad=ad)
    with CaptureQueriesContext(connection) as queries:
        matching.statuses([ad])
    # The version, the check, the matches: no institution is read beyond the matched one.
    assert len(queries) == 3, [q["sql"] for q in queries]
    assert AdInstitutionCheck.objects.get(ad=ad).checked_at == check.checked_at
    Institution.objects.create(name="启航教育咨询有限公司", kind="blacklisted")  # the lists change
    assert matching.statuses([ad])[ad.pk].status == "blacklisted"
    assert InstitutionMatch.objects.filter(ad=ad).count() == 2
    ad.title, ad.text = "别的标题", "别的内容"  # the ad changes: matched again
    assert matching.statuses([ad])[ad.pk].matches == []


@pytest.mark.django_db
def test_the_ad_page_says_licensed_out_of_scope_with_the_match(officer_client, listed):
    result = make_item(url="http://127.0.0.1/page", title="启航教育暑假数学班",
                       text="晚上7点-9点", phones=[], wechat_ids=[])
    page = officer_client.get(reverse("review_ui:ad", args=[result.ad_id])).content.decode()
    assert "机构名单" in page and "白名单" in page and QIHANG in page
    assert "不符合许可范围" in page and "广告涉及数学，超出许可范围" in page
    assert "上课时间晚于 20:30" in page and "名称匹配" in page and ">100<" in page


@pytest.mark.django_db
def test_the_ad_page_says_blacklisted_or_unknown(officer_client, listed):
    banned = make_item(url="http://127.0.0.1/b", title="托管", text="电话13700001111",
                       phones=["13700001111"], wechat_ids=[])
    unknown = make_item(url="http://127.0.0.1/u", title="家教", text="一对一", phones=[],
                        wechat_ids=[])
    page = officer_client.get(reverse("review_ui:ad", args=[banned.ad_id])).content.decode()
    assert 'class="badge blacklisted"' in page and "同一电话" in page
    page = officer_client.get(reverse("review_ui:ad", args=[unknown.ad_id])).content.decode()
    assert "未知：不在任何名单上" in page


@pytest.mark.django_db
def test_the_queue_marks_listed_matches_with_a_badge(officer_client, listed):
    make_item(url="http://127.0.0.1/q1", title="启航教育招生", text="a", phones=[],
              wechat_ids=[])
    make_item(url="http://127.0.0.1/q2", title="托管", text="b", phones=["13700001111"],
              wechat_ids=[])
    make_item(url="http://127.0.0.1/q3", title="家教", text="c", phones=[], wechat_ids=[])
    page = officer_client.get(reverse("review_ui:queue")).content.decode()
    assert page.count('class="badge licensed"') == 1
    assert page.count('class="badge blacklisted"') == 1
    assert f'title="{QIHANG}"' in page


@pytest.mark.django_db
def test_crawled_names_are_escaped_on_the_page(officer_client):
    Institution.objects.create(name="<script>alert(1)</script>", kind="licensed",
                               phones=["13700002222"])
    result = make_item(url="http://127.0.0.1/xss", title="<b>", text="x", phones=["13700002222"],
                       wechat_ids=[])
    page = officer_client.get(reverse("review_ui:ad", args=[result.ad_id])).content.decode()
    assert "<script>alert(1)" not in page and "&lt;script&gt;" in page


@pytest.mark.django_db
def test_every_export_format_has_the_institution_fields(listed):
    make_item(url="http://127.0.0.1/e1", title="启航教育", text="a", phones=[], wechat_ids=[])
    make_item(url="http://127.0.0.1/e2", title="家教", text="b", phones=[], wechat_ids=[])
    out = io.BytesIO()
    write_jsonl(out)
    rows = [json.loads(line) for line in out.getvalue().decode().splitlines()]
    assert [(r["institution"], r["institution_list"]) for r in rows] == [
        (QIHANG, "licensed"), ("", "")]
    at = FLAT_FIELDS.index("institution")
    assert FLAT_FIELDS[at:at + 2] == ["institution", "institution_list"]
    out = io.BytesIO()
    write_csv(out)
    table = list(csv.reader(io.StringIO(out.getvalue().decode("utf-8-sig"))))
    assert table[1][at:at + 2] == [QIHANG, "licensed"] and table[2][at:at + 2] == ["", ""]
    out = io.BytesIO()
    write_xlsx(out)
    sheet = load_workbook(io.BytesIO(out.getvalue())).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0][at:at + 2] == ["institution", "institution_list"]
    assert values[1][at:at + 2] == [QIHANG, "licensed"]


@pytest.mark.django_db
def test_the_api_ad_has_the_institution_fields(officer, listed):
    result = make_item(url="http://127.0.0.1/api", title="托管班", text="x",
                       phones=["13700001111"], wechat_ids=[])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=officer).key}")
    body = client.get(reverse("api:ad", args=[result.ad_id])).json()
    assert (body["institution"], body["institution_list"]) == ("长沙市博学托管中心",
                                                               "blacklisted")
    items = client.get(reverse("api:items")).json()["results"]
    assert items[0]["ad"]["institution_list"] == "blacklisted"


@pytest.mark.django_db
def test_an_admin_change_reindexes_the_contacts_and_matches_ads_again(admin_user, listed):
    from tests.review_ui.conftest import _client

    licensed, _banned = listed
    result = make_item(url="http://127.0.0.1/adm", title="托管", text="x",
                       phones=["13900009999"], wechat_ids=[])
    ad = Ad.objects.get(pk=result.ad_id)
    assert matching.statuses([ad])[ad.pk].status == ""
    response = _client(admin_user).post(
        reverse("admin:review_ui_institution_change", args=[licensed.pk]),
        {"name": licensed.name, "kind": "licensed", "region": "", "address": "",
         "phones": "139 0000 9999", "wechat_ids": "", "note": "", "credit_code": "",
         "scope": licensed.scope})
    assert response.status_code == 302
    found = matching.statuses([ad])[ad.pk]
    assert (found.status, found.best.method) == ("licensed", "phone")
    licensed.delete()  # the lists change again: the match goes with the institution
    assert matching.statuses([ad])[ad.pk].matches == []


@pytest.mark.django_db
def test_a_mobile_number_given_as_a_wechat_id_matches_either_way(listed):
    Institution.objects.create(name="某某教育", kind="blacklisted", wechat_ids=["13811112222"])
    result = make_item(url="http://127.0.0.1/wx", title="辅导", text="x", phones=["13811112222"],
                       wechat_ids=[])
    ad = Ad.objects.get(pk=result.ad_id)
    assert matching.statuses([ad])[ad.pk].best.method == "phone"


@pytest.mark.django_db
def test_an_operator_is_matched_through_its_ads_and_its_page_says_so(officer_client, listed):
    from review_ui.models import AdOperator

    licensed, banned = listed
    # Two ads of one operator (one phone): one names the licensed brand, one carries the
    # blacklisted centre's phone; a third ad of another operator matches nothing.
    first = make_item(url="http://127.0.0.1/o1", title="启航教育暑假班", text="报名从速",
                      phones=["13900002222"], wechat_ids=[])
    second = make_item(url="http://127.0.0.1/o2", title="托管", text="电话 13700001111",
                       phones=["13900002222", "13700001111"], wechat_ids=[])
    other = make_item(url="http://127.0.0.1/o3", title="家教", text="无名", phones=["13500003333"],
                      wechat_ids=[])
    operator = AdOperator.objects.get(ad_id=first.ad_id).operator_id
    assert AdOperator.objects.get(ad_id=second.ad_id).operator_id == operator
    found = matching.operator_institutions(operator)
    assert [(m.institution, m.ads, m.methods) for m in found] == [
        (banned, 1, ["phone"]), (licensed, 1, ["name"])]
    assert found[1].score == 100.0
    other_operator = AdOperator.objects.get(ad_id=other.ad_id).operator_id
    assert matching.operator_institutions(other_operator) == []
    # The matches are kept: a second reading matches no ad again.
    checked = set(AdInstitutionCheck.objects.values_list("ad_id", "checked_at"))
    matching.operator_institutions(operator)
    assert set(AdInstitutionCheck.objects.values_list("ad_id", "checked_at")) == checked
    html = officer_client.get(reverse("operators:operator", args=[operator])).content.decode()
    section = html.split("operator-institutions", 1)[1].split("</table>", 1)[0]
    assert "长沙市博学托管中心" in section and QIHANG in section
    assert section.index("长沙市博学托管中心") < section.index(QIHANG)  # blacklisted first
    assert "黑名单" in section and "名称匹配" in section
    html = officer_client.get(reverse("operators:operator", args=[other_operator])).content.decode()
    assert "均不相符" in html
