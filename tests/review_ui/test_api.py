"""The REST API under /api/v1/: token and session access, the roles, the queue's claims and
decisions with their audit rows, ads by contact, the token command and the OpenAPI schema."""

from __future__ import annotations

import json
from io import StringIO

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from review_ui.api.access import WrongTokenThrottle
from review_ui.api.views import ItemList
from review_ui.models import AuditEvent, Case, Decision, ReviewItem
from tests.review_ui.conftest import PASSWORD, make_item

pytestmark = pytest.mark.django_db

ITEMS = reverse("api:items")
ADS = reverse("api:ads")
SCHEMA = reverse("api:schema")


def claim_url(item) -> str:
    return reverse("api:item_claim", args=[item.pk])


def release_url(item) -> str:
    return reverse("api:item_release", args=[item.pk])


def decision_url(item) -> str:
    return reverse("api:item_decision", args=[item.pk])


def token_client(user) -> APIClient:
    client = APIClient(enforce_csrf_checks=True)
    key = Token.objects.get_or_create(user=user)[0].key
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def session_client(user) -> APIClient:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    return client


@pytest.fixture(autouse=True)
def _fresh_throttle():
    cache.clear()  # the wrong-token counts live in the cache
    yield
    cache.clear()


@pytest.fixture
def api(officer) -> APIClient:
    return token_client(officer)


@pytest.fixture
def api2(second_officer) -> APIClient:
    return token_client(second_officer)


@pytest.fixture
def item(flagged) -> ReviewItem:
    return ReviewItem.objects.get(ad_id=flagged.ad_id)


def post(client: APIClient, url: str, body=None):
    return client.post(url, body, format="json") if body is not None else client.post(url)


# --- Listing items --------------------------------------------------------------------------


def test_an_officer_lists_the_pending_items_with_their_ads(api, item):
    response = api.get(ITEMS)
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) >= {"count", "next", "results"}
    assert body["count"] == 1 and body["next"] is None
    row = body["results"][0]
    assert {k: row[k] for k in ("id", "status", "score", "category", "sample")} == {
        "id": item.pk, "status": "pending", "score": 0.93, "category": "open_tutoring",
        "sample": False}
    ad = row["ad"]
    assert set(ad) == {"id", "url", "source", "title", "text", "posted_at", "contacts",
                       "institution", "institution_list"}
    assert ad["id"] == item.ad_id and ad["source"] == "test_site"
    assert ad["title"] == "小学数学一对一辅导" and "13912345678" in ad["text"]
    assert ad["contacts"] == {"phones": ["13912345678"], "wechat_ids": ["tutor_abc"]}
    assert ad["posted_at"].startswith("2026-10-30T09:00:00")


def test_items_are_filtered_by_status_and_by_sample(api):
    flagged = make_item(url="http://127.0.0.1/flagged")
    sampled = make_item(url="http://127.0.0.1/sampled", score=0.2, label=0)
    decided = make_item(url="http://127.0.0.1/decided")
    assert not sampled.queued  # below the threshold: queued only as part of the sample
    ReviewItem.objects.create(ad_id=sampled.ad_id, sample=True)
    officer = get_user_model().objects.get(username="officer1")
    ReviewItem.objects.get(ad_id=decided.ad_id).decide(officer, "dismissed", reason="adult")

    def ads(**query) -> set[int]:
        response = api.get(ITEMS, query)
        assert response.status_code == 200, response.content
        return {row["ad"]["id"] for row in response.json()["results"]}

    assert ads() == {flagged.ad_id, sampled.ad_id}  # pending, both kinds
    assert ads(sample="true") == {sampled.ad_id}
    assert ads(sample="false") == {flagged.ad_id}
    assert ads(status="dismissed") == {decided.ad_id}
    assert ads(status="dismissed", sample="true") == set()
    assert ads(status="confirmed") == set()


@pytest.mark.parametrize("query", [{"status": "done"}, {"sample": "maybe"},
                                   {"status": "merged"}, {"page": "0"}])
def test_a_bad_filter_is_a_400_or_404_naming_it(api, item, query):
    response = api.get(ITEMS, query)
    assert response.status_code == (404 if "page" in query else 400)
    if "page" not in query:
        assert list(response.json()) == list(query)


def test_the_item_list_is_paginated_in_the_queues_order(api, monkeypatch):
    monkeypatch.setattr(ItemList.pagination_class, "page_size", 2)
    for n, score in enumerate([0.95, 0.8, 0.9]):
        make_item(url=f"http://127.0.0.1/p{n}", title=f"广告{n}", score=score)
    first = api.get(ITEMS).json()
    assert first["count"] == 3
    assert [row["score"] for row in first["results"]] == [0.95, 0.9]
    assert first["next"] and "page=2" in first["next"]
    second = api.get(first["next"]).json()
    assert [row["score"] for row in second["results"]] == [0.8]
    assert second["next"] is None


# --- Who may do what ------------------------------------------------------------------------


def test_without_credentials_the_api_answers_401_not_the_login_page(item):
    client = APIClient()
    for method, url in [("get", ITEMS), ("post", claim_url(item)), ("get", SCHEMA),
                        ("get", reverse("api:ad", args=[item.ad_id]))]:
        response = getattr(client, method)(url)
        assert response.status_code == 401, url
        assert response["WWW-Authenticate"] == "Token"


def test_a_user_with_no_role_gets_403_everywhere_and_changes_nothing(outsider, item):
    client = token_client(outsider)
    calls = [("get", ITEMS, None), ("get", ADS + "?contact=13912345678", None),
             ("get", reverse("api:ad", args=[item.ad_id]), None), ("get", SCHEMA, None),
             ("post", claim_url(item), None), ("post", release_url(item), None),
             ("post", decision_url(item), {"decision": "confirmed", "reason": "online"})]
    for method, url, body in calls:
        response = getattr(client, method)(url, body, format="json")
        assert response.status_code == 403, url
        assert response.data["detail"] == "您的角色无权执行此操作。"
    item.refresh_from_db()
    assert item.status == "pending" and item.claimed_by is None
    assert not AuditEvent.objects.filter(actor=outsider).exists()


def test_an_admin_without_the_queue_role_gets_403(admin_user, item):
    client = token_client(admin_user)
    assert client.get(ITEMS).status_code == 403
    assert post(client, decision_url(item), {"decision": "dismissed",
                                             "reason": "adult"}).status_code == 403


def test_an_inactive_or_deleted_users_token_is_refused_with_401(officer, item):
    client = token_client(officer)
    officer.is_active = False
    officer.save()
    assert client.get(ITEMS).status_code == 401
    leaver = get_user_model().objects.create_user("leaver", password=PASSWORD)
    gone = token_client(leaver)
    leaver.delete()
    assert gone.get(ITEMS).status_code == 401
    assert post(gone, claim_url(item)).status_code == 401


def test_a_wrong_token_is_401_and_too_many_from_one_address_are_429(api, monkeypatch, item):
    monkeypatch.setattr(WrongTokenThrottle, "THROTTLE_RATES", {"api_token_failures": "3/hour"})
    guesser = APIClient()
    guesser.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert [guesser.get(ITEMS).status_code for _ in range(4)] == [401, 401, 401, 429]
    refused = guesser.get(ITEMS)
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    # The address is refused whatever it sends, until the hour is over.
    assert api.get(ITEMS).status_code == 429
    cache.clear()
    assert api.get(ITEMS).status_code == 200


def test_a_session_post_needs_csrf_and_a_token_post_does_not(officer, supervisor, item):
    browser = session_client(officer)
    assert browser.get(ITEMS).status_code == 200  # the UI's login opens the API
    refused = post(browser, claim_url(item))
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    assert ReviewItem.objects.get(pk=item.pk).claimed_by is None
    browser.get(reverse("review_ui:queue"))  # sets the CSRF cookie
    accepted = browser.post(claim_url(item), HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value)
    assert accepted.status_code == 200
    # A token needs no CSRF token, even from a client that enforces the checks.
    assert post(token_client(supervisor), release_url(item)).status_code == 200


def test_staff_get_the_browsable_page_and_officers_json(officer, supervisor, item):
    html = session_client(supervisor).get(ITEMS, HTTP_ACCEPT="text/html")
    assert html.status_code == 200 and html["Content-Type"].startswith("text/html")
    assert "rest_framework/js" in html.content.decode()
    plain = session_client(officer).get(ITEMS, HTTP_ACCEPT="text/html,*/*;q=0.8")
    assert plain.status_code == 200 and plain["Content-Type"] == "application/json"


# --- Claims ---------------------------------------------------------------------------------


def test_claiming_through_the_api_writes_the_uis_audit_row_marked_api(api, officer, item):
    response = post(api, claim_url(item))
    assert response.status_code == 200
    body = response.json()
    assert body["claimed_by"] == "officer1" and body["claim_expires_at"]
    assert ReviewItem.objects.get(pk=item.pk).claimed_by == officer
    event = AuditEvent.objects.get(action="item.claimed")
    assert event.actor == officer and event.item_id == item.pk
    assert event.detail == {"via": "api"}


def test_a_claim_by_another_officer_is_a_409_for_claims_and_decisions(api, api2, item):
    post(api, claim_url(item))
    for url, body in [(claim_url(item), None),
                      (decision_url(item), {"decision": "dismissed", "reason": "adult"})]:
        response = post(api2, url, body)
        assert response.status_code == 409
        assert response.json()["code"] == "claimed" and "officer1" in response.json()["detail"]
    assert ReviewItem.objects.get(pk=item.pk).status == "pending"
    assert not Decision.objects.exists()
    assert post(api2, release_url(item)).json()["code"] == "not_claimed"
    assert post(api, release_url(item)).status_code == 200
    assert post(api2, claim_url(item)).status_code == 200
    released = AuditEvent.objects.get(action="item.released")
    assert released.detail["via"] == "api"


def test_a_supervisor_releases_anyones_claim(api, supervisor, item):
    post(api, claim_url(item))
    response = post(token_client(supervisor), release_url(item))
    assert response.status_code == 200 and response.json()["claimed_by"] is None


# --- Decisions ------------------------------------------------------------------------------


def test_an_officer_decides_through_the_api_as_in_the_ui(api, officer, item):
    post(api, claim_url(item))
    response = post(api, decision_url(item),
                    {"decision": "confirmed", "reason": "open_tutoring", "note": "周末补课"})
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["reason"], body["claimed_by"]) == (
        "confirmed", "open_tutoring", None)
    decision = Decision.objects.get()
    assert (decision.officer, decision.decision, decision.reason, decision.note) == (
        officer, "confirmed", "open_tutoring", "周末补课")
    event = AuditEvent.objects.get(action="item.decided")
    assert event.detail == {"decision": "confirmed", "reason": "open_tutoring",
                            "note": "周末补课", "decision_id": decision.pk, "via": "api"}


def test_an_escalation_opens_a_case_and_another_joins_it_by_number(api):
    first = ReviewItem.objects.get(ad_id=make_item(url="http://127.0.0.1/e1").ad_id)
    second = ReviewItem.objects.get(ad_id=make_item(url="http://127.0.0.1/e2").ad_id)
    opened = post(api, decision_url(first), {"decision": "escalated", "reason": "study_room"})
    number = opened.json()["case"]
    assert opened.status_code == 200 and number == Case.objects.get().number
    joined = post(api, decision_url(second),
                  {"decision": "escalated", "reason": "study_room", "case": number})
    assert joined.status_code == 200 and joined.json()["case"] == number
    assert Case.objects.count() == 1


def test_deciding_a_decided_item_again_is_a_409(api, api2, item):
    assert post(api, decision_url(item), {"decision": "dismissed",
                                          "reason": "adult"}).status_code == 200
    for client in (api, api2):
        again = post(client, decision_url(item), {"decision": "confirmed", "reason": "online"})
        assert again.status_code == 409 and again.json()["code"] == "already_decided"
        assert post(client, claim_url(item)).json()["code"] == "already_decided"
    assert ReviewItem.objects.get(pk=item.pk).status == "dismissed"
    assert Decision.objects.count() == 1


@pytest.mark.parametrize(("body", "field"), [
    ({"decision": "confirmed", "reason": "adult"}, "reason"),           # a dismissal reason
    ({"decision": "escalated", "reason": "pure_care"}, "reason"),       # on a violation
    ({"decision": "dismissed", "reason": "open_tutoring"}, "reason"),   # a violation form
    ({"decision": "confirmed", "reason": "no_such_code"}, "reason"),    # on a dismissal
    ({"decision": "confirmed"}, "reason"),
    ({"decision": "delete", "reason": "adult"}, "decision"),
    ({"decision": "confirmed", "reason": "online", "note": "长" * 2001}, "note"),
    ({"decision": "confirmed", "reason": "online", "case": "TW2026-00001"}, "case"),
    ({"decision": "escalated", "reason": "online", "case": "TW2026-99999"}, "case"),
    ({"decision": "confirmed", "reason": "online", "note": None}, "note"),
])
def test_a_bad_decision_is_a_400_naming_the_field_and_changes_nothing(api, item, body, field):
    response = post(api, decision_url(item), body)
    assert response.status_code == 400
    errors = response.json()
    assert list(errors) == [field] and errors[field][0]
    assert ReviewItem.objects.get(pk=item.pk).status == "pending"
    assert not Decision.objects.exists() and not Case.objects.exists()
    assert not AuditEvent.objects.filter(action="item.decided").exists()


def test_a_reason_of_the_wrong_kind_says_what_is_needed(api, item):
    response = post(api, decision_url(item), {"decision": "dismissed", "reason": "online"})
    assert response.json() == {"reason": ["排除时须选择排除理由。"]}
    english = api.post(decision_url(item), {"decision": "dismissed", "reason": "online"},
                       format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert english.json() == {"reason": ["Dismissing needs a dismissal reason."]}


@pytest.mark.parametrize(("payload", "content_type", "status"), [
    ('{"decision": "confirmed", "reason": ', "application/json", 400),
    ("not json at all", "application/json", 400),
    ('["confirmed", "online"]', "application/json", 400),
    ("decision=confirmed&reason=online", "application/x-www-form-urlencoded", 415),
])
def test_malformed_json_is_refused_with_a_message_and_changes_nothing(
    api, item, payload, content_type, status
):
    response = api.post(decision_url(item), payload, content_type=content_type)
    assert response.status_code == status
    message = json.dumps(response.json(), ensure_ascii=False)
    assert len(message) > 10
    assert ReviewItem.objects.get(pk=item.pk).status == "pending"
    assert not Decision.objects.exists()


def test_unknown_items_are_404_and_other_methods_405(api, item):
    for pk in (item.pk + 1000, 2**63, 10**30):
        response = post(api, reverse("api:item_claim", args=[pk]))
        assert response.status_code == 404 and response.json()["detail"]
    assert api.get(claim_url(item)).status_code == 405
    assert api.get(decision_url(item)).status_code == 405
    assert post(api, ITEMS).status_code == 405


# --- Ads ------------------------------------------------------------------------------------


@pytest.mark.parametrize("written", ["13912345678", "139 1234 5678", "139-1234-5678",
                                     "１３９１２３４５６７８", "+86 139 1234 5678"])
def test_ads_are_found_by_a_phone_written_as_ads_write_it(api, written):
    one = make_item(url="http://127.0.0.1/a1")
    two = make_item(url="http://127.0.0.1/a2", phones=["13912345678"], wechat_ids=[])
    make_item(url="http://127.0.0.1/a3", phones=["13700001111"], wechat_ids=["other_id"])
    response = api.get(ADS, {"contact": written})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert {row["id"] for row in body["results"]} == {one.ad_id, two.ad_id}
    assert set(body["results"][0]) == {"id", "url", "source", "title", "text", "posted_at",
                                       "contacts", "institution", "institution_list"}


def test_ads_are_found_by_a_wechat_id(api):
    one = make_item(url="http://127.0.0.1/w1", phones=[], wechat_ids=["tutor_abc"])
    make_item(url="http://127.0.0.1/w2", phones=["13700001111"], wechat_ids=[])
    for written in ("tutor_abc", "微信：tutor_abc", " tutor_abc "):
        rows = api.get(ADS, {"contact": written}).json()["results"]
        assert [row["id"] for row in rows] == [one.ad_id], written
    assert api.get(ADS, {"contact": "nobody_here"}).json() == {
        "count": 0, "next": None, "previous": None, "results": []}


@pytest.mark.parametrize("query", [{}, {"contact": ""}, {"contact": "12345"},
                                   {"contact": "补课"}, {"contact": "x" * 101}])
def test_a_contact_search_without_a_contact_is_a_400(api, query):
    response = api.get(ADS, query)
    assert response.status_code == 400 and list(response.json()) == ["contact"]
    if query.get("contact") in ("12345", "补课"):
        assert response.json()["contact"] == ["这既不是手机号，也不是微信号。"]


def test_an_ad_by_id_with_its_verdict_and_item_is_audited_as_a_view(api, officer, item):
    response = api.get(reverse("api:ad", args=[item.ad_id]))
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == item.ad_id and body["contacts"]["phones"] == ["13912345678"]
    assert body["verdict"]["score"] == 0.93 and body["verdict"]["model_version"] == "test-model"
    assert body["item"]["id"] == item.pk and body["item"]["status"] == "pending"
    assert "raw_page" not in body
    event = AuditEvent.objects.get(action="ad.viewed")
    assert (event.actor, event.ad_id, event.item_id, event.detail) == (
        officer, item.ad_id, item.pk, {"via": "api"})
    assert api.get(reverse("api:ad", args=[item.ad_id + 1000])).status_code == 404


def test_crawled_text_comes_back_as_json_data_never_as_markup(api):
    hostile = "<script>alert(1)</script>补课"
    ad_id = make_item(url="http://127.0.0.1/x", title=hostile, text=hostile).ad_id
    response = api.get(reverse("api:ad", args=[ad_id]))
    assert response["Content-Type"] == "application/json"
    assert response.json()["title"] == hostile


# --- The token command ----------------------------------------------------------------------


def run_token(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("token", *args, stdout=out, stderr=err)
    return out.getvalue().strip(), err.getvalue()


def test_the_token_command_creates_a_key_once_and_rotates_it(officer, item):
    key, warning = run_token("officer1")
    assert len(key) == 40 and warning == ""
    assert run_token("officer1")[0] == key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get(ITEMS).status_code == 200
    new_key, _ = run_token("officer1", "--rotate")
    assert new_key != key and Token.objects.get(user=officer).key == new_key
    assert client.get(ITEMS).status_code == 401
    client.credentials(HTTP_AUTHORIZATION=f"Token {new_key}")
    assert client.get(ITEMS).status_code == 200
    actions = list(AuditEvent.objects.filter(action__startswith="user.token_")
                   .order_by("pk").values_list("action", flat=True))
    assert actions == ["user.token_created", "user.token_rotated"]
    assert not any(key in json.dumps(e.detail) or new_key in json.dumps(e.detail)
                   for e in AuditEvent.objects.all())


def test_the_token_command_warns_about_a_user_the_api_would_refuse(outsider):
    key, warning = run_token("outsider")
    assert key and "403" in warning
    with pytest.raises(CommandError, match="no user"):
        run_token("nobody")
    outsider.is_active = False
    outsider.save()
    with pytest.raises(CommandError, match="inactive"):
        run_token("outsider", "--rotate")
    assert Token.objects.get(user=outsider).key == key


# --- The schema -----------------------------------------------------------------------------


def test_the_openapi_schema_validates_and_describes_every_endpoint(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    schema = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert set(schema["paths"]) == {
        "/api/v1/items/", "/api/v1/items/{id}/claim/", "/api/v1/items/{id}/release/",
        "/api/v1/items/{id}/decision/", "/api/v1/ads/", "/api/v1/ads/{id}/",
        "/api/v1/submissions/", "/api/v1/items/{id}/",
        "/api/v1/ads/{id}/screenshots/{shot}.png", "/api/v1/search/"}
    decision = schema["paths"]["/api/v1/items/{id}/decision/"]["post"]
    assert {"200", "400", "401", "403", "404", "409"} <= set(decision["responses"])
    listing = schema["paths"]["/api/v1/items/"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"status", "sample", "page"}
    assert "tokenAuth" in schema["components"]["securitySchemes"]


def test_the_schema_is_served_to_officers(api):
    response = api.get(SCHEMA, HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "tutorwatch API"
