"""The search box and GET /api/v1/search/ (issue 17 point 5): phones in any spelling, WeChat
ids, names, words, case numbers; grouped by kind and paged; the roles; hostile text escaped;
the phone search an index lookup; every search audited."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from review_ui import search as search_module
from review_ui import search_views
from review_ui.models import AuditEvent, Case, Institution, ReviewItem
from review_ui.search import QueryError, parse
from tests.review_ui.conftest import make_item

pytestmark = pytest.mark.django_db

PAGE = reverse("review_ui:search")
API = reverse("api:search")
PHONE = "13912345678"
SPELLINGS = [
    "13912345678", "139 1234 5678", "139-1234-5678", "+86 139 1234 5678", "+8613912345678",
    "+86-139-1234-5678", "0086 139 1234 5678", "0086-13912345678", "8613912345678",
    "１３９１２３４５６７８", "＋８６ １３９ １２３４ ５６７８", "(139) 1234.5678",
    " 139 1234 5678 ",
]


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # the API's wrong-token counts
    yield
    cache.clear()


@pytest.fixture
def ads(db):
    """Three ads: two carrying PHONE (one also tutor_abc), one with another phone and words."""
    mine = make_item("http://127.0.0.1/post/1", title="阳光教育小学数学辅导",
                     text="周末上门辅导数学，提分快。", phones=[PHONE], wechat_ids=["tutor_abc"])
    copy = make_item("http://127.0.0.1/post/2", title="初中英语一对一",
                     text="暑假英语补课，名师授课。", phones=[PHONE], wechat_ids=[])
    other = make_item("http://127.0.0.1/post/3", title="书法兴趣班招生",
                      text="少儿书法，周六上午。联系 13800001111", phones=["13800001111"],
                      wechat_ids=["calli_go"])
    return {"mine": mine.ad_id, "copy": copy.ad_id, "other": other.ad_id}


def token_client(user) -> APIClient:
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def api_ids(response, kind: str = "ad") -> set[int]:
    assert response.status_code == 200, response.content
    return {hit["id"] for hit in response.json()["results"][kind]["results"]}


# --- Reading a query ----------------------------------------------------------------------------

@pytest.mark.parametrize("spelling", SPELLINGS)
def test_every_spelling_of_a_phone_reads_as_the_stored_digits(spelling):
    query = parse(spelling)
    assert query.phones == (PHONE,)
    assert query.phone_only


def test_a_query_keeps_its_words_beside_a_phone_and_reads_wechat_ids_and_case_numbers():
    query = parse("139 1234 5678 数学")
    assert (query.phones, query.words, query.phone_only) == ((PHONE,), ("数学",), False)
    assert parse("微信：tutor_abc").wechat_ids == ("tutor_abc",)
    assert parse("tutor_abc 补课").words == ("补课",)
    assert parse("tw2026-00012").case_number == "TW2026-00012"
    assert parse("12345").words == ("12345",)  # too short for a phone: a word
    assert parse("139 1234 5678，138 0000 1111").phones == ("13800001111", PHONE)


@pytest.mark.parametrize("text", ["", "   ", "数" * 101, "一 二 三 四 五 六"])
def test_an_empty_overlong_or_wordy_query_is_refused(text):
    with pytest.raises(QueryError):
        parse(text)


# --- The page -----------------------------------------------------------------------------------

@pytest.mark.parametrize("spelling", SPELLINGS)
def test_the_page_finds_ads_by_any_spelling_of_their_phone(officer_client, ads, spelling):
    response = officer_client.get(PAGE, {"q": spelling})
    assert response.status_code == 200
    found = {hit.id for group in response.context["pages"] for hit in group.hits
             if group.kind == "ad"}
    assert found == {ads["mine"], ads["copy"]}
    assert reverse("review_ui:ad", args=[ads["mine"]]) in response.content.decode()


def test_a_phone_search_reads_the_contact_index_and_scans_no_text(officer_client, ads):
    with CaptureQueriesContext(connection) as queries:
        response = officer_client.get(PAGE, {"q": "+86 139-1234-5678"})
    assert response.status_code == 200
    on_ads = [q["sql"] for q in queries.captured_queries
              if 'FROM "review_ui_ad"' in q["sql"] and "review_ui_adcontact" in q["sql"]]
    assert on_ads, "the ads were not read through the contact index"
    assert not any("LIKE" in sql.upper() or "GLOB" in sql.upper() for sql in on_ads)


def test_the_page_finds_ads_by_wechat_id_and_by_words(officer_client, ads):
    def found(q: str) -> set[int]:
        response = officer_client.get(PAGE, {"q": q})
        assert response.status_code == 200
        return {hit.id for group in response.context["pages"] for hit in group.hits
                if group.kind == "ad"}

    assert found("tutor_abc") == {ads["mine"]}
    assert found("微信：calli_go") == {ads["other"]}
    assert found("数学") == {ads["mine"]}
    assert found("阳光教育") == {ads["mine"]}  # an institution's name in the title
    assert found("补课 名师") == {ads["copy"]}  # every word
    assert found("补课 书法") == set()
    assert found("13912345678 英语") == {ads["copy"]}  # the phone and the word
    assert found("没有这个词") == set()


def test_the_results_page_is_chinese_and_says_how_the_query_was_read(officer_client, ads):
    body = officer_client.get(PAGE, {"q": "+86 139 1234 5678"}).content.decode()
    assert "查找的是" in body and "<code>13912345678</code>" in body
    assert "广告" in body and "电话" in body


def test_hostile_text_is_escaped_in_the_results(officer_client):
    make_item("http://127.0.0.1/post/x", title="<script>alert('t')</script>数学",
              text='<img src=x onerror="alert(1)">数学辅导', phones=["13700001111"])
    body = officer_client.get(PAGE, {"q": "<b>数学"}).content.decode()
    assert "<script>alert" not in body and "<img src=x" not in body and "<b>数学" not in body
    body = officer_client.get(PAGE, {"q": "137 0000 1111"}).content.decode()
    assert "&lt;script&gt;alert(" in body and "&lt;img src=x onerror=" in body
    assert "<script>alert" not in body and "<img src=x" not in body


def test_cases_are_found_by_number_by_an_ads_phone_and_by_words(officer, officer_client, ads):
    item = ReviewItem.objects.get(ad_id=ads["copy"])
    item.decide(officer, "escalated", "同一电话多次发布", reason="open_tutoring", new_case=True)
    case = Case.objects.get()

    def cases(q: str) -> list[int]:
        response = officer_client.get(PAGE, {"q": q})
        assert response.status_code == 200
        return [hit.id for group in response.context["pages"] for hit in group.hits
                if group.kind == "case"]

    assert cases(case.number) == [case.pk]
    assert cases("139 1234 5678") == [case.pk]
    assert cases("补课") == [case.pk]  # a word of its ad
    assert cases("书法") == []
    assert cases("TW1999-99999") == []


def test_listed_institutions_are_shown_to_supervisors_only(supervisor_client, officer_client):
    Institution.objects.create(name="启明星教育培训中心", kind="blacklisted", region="长沙",
                               address="雨花区某路1号", phones=[PHONE], wechat_ids=[])
    Institution.objects.create(name="别的机构", kind="licensed", phones=["13912345670"])
    response = supervisor_client.get(PAGE, {"q": "启明星"})
    groups = {group.kind: group for group in response.context["pages"]}
    assert [hit.title for hit in groups["institution"].hits] == ["启明星教育培训中心"]
    response = supervisor_client.get(PAGE, {"q": "139-1234-5678"})
    groups = {group.kind: group for group in response.context["pages"]}
    assert [hit.title for hit in groups["institution"].hits] == ["启明星教育培训中心"]
    response = officer_client.get(PAGE, {"q": "启明星"})
    assert "institution" not in {group.kind for group in response.context["pages"]}


def test_a_search_is_audited(officer, officer_client, ads):
    officer_client.get(PAGE, {"q": "139 1234 5678"})
    event = AuditEvent.objects.filter(action="search.performed").get()
    assert event.actor == officer
    assert event.detail["q"] == "139 1234 5678" and event.detail["phones"] == [PHONE]
    assert event.detail["via"] == "ui" and event.detail["found"]["ad"] == 2


def test_an_empty_search_shows_the_box_and_audits_nothing(officer_client):
    response = officer_client.get(PAGE)
    assert response.status_code == 200 and 'name="q"' in response.content.decode()
    assert not AuditEvent.objects.filter(action="search.performed").exists()


@pytest.mark.parametrize("params", [{"q": "数" * 101}, {"q": "数学", "page": "0"},
                                    {"q": "数学", "kind": "everything"},
                                    {"q": "数学", "page": "x"}])
def test_a_bad_search_is_a_400_in_chinese_that_audits_nothing(officer_client, params):
    response = officer_client.get(PAGE, params)
    assert response.status_code == 400
    assert "搜索条件无效" in response.content.decode()
    assert not AuditEvent.objects.filter(action="search.performed").exists()


def test_the_page_needs_login_and_a_role_that_sees_the_queue(client, outsider_client,
                                                             admin_user, ads):
    response = client.get(PAGE, {"q": PHONE})
    assert response.status_code == 302 and reverse("login") in response["Location"]
    assert outsider_client.get(PAGE, {"q": PHONE}).status_code == 403
    client.force_login(admin_user)  # admins run the admin pages, not the queue
    assert client.get(PAGE, {"q": PHONE}).status_code == 403
    assert not AuditEvent.objects.filter(action="search.performed").exists()


def test_the_top_bar_has_the_box_for_those_who_see_the_queue(officer_client, supervisor_client,
                                                             outsider_client):
    box = f'action="{PAGE}"'
    assert box in officer_client.get(reverse("review_ui:queue")).content.decode()
    assert box in supervisor_client.get(reverse("review_ui:dashboard")).content.decode()
    assert box not in outsider_client.get(reverse("review_ui:home")).content.decode()


@pytest.mark.parametrize("window", [50_000, 2])  # ads read at a time by a text search
def test_more_hits_of_one_kind_are_a_page_away(officer_client, monkeypatch, window):
    monkeypatch.setattr(search_module, "WINDOW", window)
    make_item("http://127.0.0.1/many/other", title="书法班", phones=["13600000001"])
    for n in range(5):
        make_item(f"http://127.0.0.1/many/{n}", title=f"作文提高班{n}", phones=["13600000000"])
    monkeypatch.setattr(search_views, "PAGE_SIZE", 2)
    first = officer_client.get(PAGE, {"q": "作文"}).context["pages"]
    assert [len(g.hits) for g in first if g.kind == "ad"] == [2]
    assert "kind=ad&amp;page=2" in officer_client.get(PAGE, {"q": "作文"}).content.decode()
    seen = []
    for page in (1, 2, 3):
        groups = officer_client.get(PAGE, {"q": "作文", "kind": "ad", "page": page}
                                    ).context["pages"]
        assert [g.kind for g in groups] == ["ad"]
        seen += [hit.id for hit in groups[0].hits]
        assert groups[0].has_next == (page < 3)
    assert len(seen) == len(set(seen)) == 5
    assert seen == sorted(seen, reverse=True)  # newest first


# --- The API ------------------------------------------------------------------------------------

@pytest.mark.parametrize("spelling", SPELLINGS)
def test_the_api_finds_ads_by_any_spelling_of_their_phone(officer, ads, spelling):
    response = token_client(officer).get(API, {"q": spelling})
    assert api_ids(response) == {ads["mine"], ads["copy"]}
    body = response.json()
    assert body["phones"] == [PHONE] and body["q"] == spelling.strip()
    hit = next(h for h in body["results"]["ad"]["results"] if h["id"] == ads["mine"])
    assert hit["matched"] == "phone"
    assert hit["page"] == reverse("review_ui:ad", args=[ads["mine"]])
    assert hit["url"] == reverse("api:ad", args=[ads["mine"]])
    assert set(body["results"]) == {"ad", "lead", "case"}  # no institution lists for officers


def test_the_api_finds_by_wechat_id_name_and_words(officer, ads):
    api = token_client(officer)
    assert api_ids(api.get(API, {"q": "tutor_abc"})) == {ads["mine"]}
    assert api_ids(api.get(API, {"q": "阳光教育"})) == {ads["mine"]}
    assert api_ids(api.get(API, {"q": "英语 名师"})) == {ads["copy"]}
    hit = api.get(API, {"q": "tutor_abc"}).json()["results"]["ad"]["results"][0]
    assert hit["matched"] == "wechat"
    words = api.get(API, {"q": "名师"}).json()["results"]["ad"]["results"][0]
    assert words["matched"] == "text" and "名师" in words["snippet"]


def test_the_api_pages_through_one_kind(officer):
    for n in range(3):
        make_item(f"http://127.0.0.1/page/{n}", title=f"奥数集训{n}", phones=["13500000000"])
    api = token_client(officer)
    first = api.get(API, {"q": "奥数", "limit": 2}).json()["results"]["ad"]
    second = api.get(API, {"q": "奥数", "kind": "ad", "limit": 2, "page": 2}).json()
    assert (len(first["results"]), first["has_next"]) == (2, True)
    assert list(second["results"]) == ["ad"]
    assert (len(second["results"]["ad"]["results"]), second["results"]["ad"]["has_next"]) == (
        1, False)


@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "数" * 101}, {"q": "数学", "kind": "x"},
                                    {"q": "数学", "limit": 0}, {"q": "数学", "limit": 101},
                                    {"q": "数学", "page": 0}])
def test_the_api_refuses_a_bad_query_with_a_400_naming_the_field(officer, params):
    response = token_client(officer).get(API, params)
    assert response.status_code == 400
    assert set(response.json()) <= {"q", "kind", "limit", "page"}
    assert not AuditEvent.objects.filter(action="search.performed").exists()


def test_the_api_says_in_chinese_what_is_wrong(officer):
    response = token_client(officer).get(API, {"q": "一 二 三 四 五 六"})
    assert response.json()["q"] == ["一次最多搜索 5 个词。"]


def test_the_api_needs_a_token_or_session_and_a_role(officer, outsider, admin_user, ads):
    assert APIClient().get(API, {"q": PHONE}).status_code == 401
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert wrong.get(API, {"q": PHONE}).status_code == 401
    assert token_client(outsider).get(API, {"q": PHONE}).status_code == 403
    assert token_client(admin_user).get(API, {"q": PHONE}).status_code == 403
    session = APIClient(enforce_csrf_checks=True)
    session.force_login(officer)
    assert api_ids(session.get(API, {"q": PHONE})) == {ads["mine"], ads["copy"]}
    assert token_client(officer).post(API, {"q": PHONE}).status_code == 405


def test_an_api_search_is_audited_as_via_api(officer, ads):
    token_client(officer).get(API, {"q": "tutor_abc"})
    event = AuditEvent.objects.filter(action="search.performed").get()
    assert (event.actor, event.detail["via"], event.detail["found"]["ad"]) == (officer, "api", 1)


def test_the_schema_describes_the_search(officer):
    schema = token_client(officer).get(reverse("api:schema"), {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/search/"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"q", "kind", "page", "limit"}


def test_a_rare_word_search_is_stopped_at_its_time_limit_on_postgresql(officer, ads,
                                                                       monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("the time limit is PostgreSQL's statement_timeout (TUTORWATCH_TEST_PG)")
    slow = search_module.ad_matches

    def sleepy(query):  # each row costs 0.2 s, as a scan of a million ads would in all
        return slow(query).extra(where=["pg_sleep(0.2) IS NOT NULL"])

    monkeypatch.setattr(search_module, "ad_matches", sleepy)
    monkeypatch.setattr(search_module, "TEXT_SEARCH_SECONDS", 0.05)
    response = token_client(officer).get(API, {"q": "补课"})
    assert response.status_code == 200
    ads_result = response.json()["results"]["ad"]
    assert ads_result == {**ads_result, "too_slow": True, "results": [], "has_next": False}
    assert response.json()["results"]["case"]["too_slow"] is False
    # The phone search is an index lookup: never stopped, and the connection still works.
    assert api_ids(token_client(officer).get(API, {"q": PHONE})) == {ads["mine"], ads["copy"]}


def test_a_text_search_past_its_time_limit_says_so_rather_than_nothing_found(officer_client,
                                                                           ads, monkeypatch):
    monkeypatch.setattr(search_module, "TEXT_SEARCH_SECONDS", -1)
    response = officer_client.get(PAGE, {"q": "补课"})
    assert response.status_code == 200
    groups = {group.kind: group for group in response.context["pages"]}
    assert groups["ad"].too_slow and not groups["ad"].hits
    body = response.content.decode()
    assert "查找耗时过长" in body and "没有找到" not in body.split('id="results-lead"')[0]
    # A phone search is an index lookup and has no time limit.
    response = officer_client.get(PAGE, {"q": PHONE})
    groups = {group.kind: group for group in response.context["pages"]}
    assert {hit.id for hit in groups["ad"].hits} == {ads["mine"], ads["copy"]}


# --- Leads --------------------------------------------------------------------------------------

def _lead(officer, **data):
    from django.utils import timezone

    from review_ui.intake.leads import enter

    values = {"text": "家长反映：小区内有人办数学补习班。", "place": "雨花区某小区",
              "institution": "", "phones": [], "wechat_ids": [], "channel": "hotline",
              "ticket": "", "received_at": timezone.now()}
    return enter(officer, {**values, **data})


def test_leads_are_found_by_phone_spelling_name_and_words(officer, officer_client, ads):
    lead = _lead(officer, institution="阳光教育", phones=[PHONE], ticket="12345-0001")
    other = _lead(officer, text="投诉书法班收费", phones=["13800001111"], ticket="12345-0002")
    api = token_client(officer)
    for spelling in ("+86 139 1234 5678", "１３９１２３４５６７８", "8613912345678"):
        assert api_ids(api.get(API, {"q": spelling}), "lead") == {lead.pk}
    assert api_ids(api.get(API, {"q": "阳光教育"}), "lead") == {lead.pk}
    assert api_ids(api.get(API, {"q": "书法"}), "lead") == {other.pk}
    assert api_ids(api.get(API, {"q": "12345-0002"}), "lead") == {other.pk}
    hit = api.get(API, {"q": "阳光教育"}).json()["results"]["lead"]["results"][0]
    assert hit["matched"] == "name"
    assert hit["page"] == reverse("intake:lead", args=[lead.pk])
    body = officer_client.get(PAGE, {"q": "139 1234 5678"}).content.decode()
    assert "线索" in body and reverse("intake:lead", args=[lead.pk]) in body


def test_a_case_is_found_through_its_leads(officer, officer_client):
    lead = _lead(officer, phones=["13700002222"], ticket="12345-0009")
    case = Case.objects.create(opened_by=officer)
    lead.case = case
    lead.save(update_fields=["case"])
    response = officer_client.get(PAGE, {"q": "137-0000-2222"})
    groups = {group.kind: group for group in response.context["pages"]}
    assert [hit.id for hit in groups["case"].hits] == [case.pk]
    assert groups["case"].hits[0].link == reverse("review_ui:case", args=[case.pk])
