"""The review pages and decisions, through Django's test client, for every persona."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from review_ui.models import Ad, AuditEvent, Case, Decision, ReviewItem
from tests.review_ui.conftest import CONFIRM, DISMISS, PASSWORD, make_item

pytestmark = pytest.mark.django_db


def pages(ad_id: int) -> list[str]:
    return [
        reverse("review_ui:queue"),
        reverse("review_ui:ad", args=[ad_id]),
        reverse("review_ui:snapshot", args=[ad_id]),
        reverse("review_ui:audit"),
        reverse("review_ui:work"),
        reverse("review_ui:dashboard"),
        reverse("review_ui:export_cases", args=["csv"]),
        reverse("review_ui:audit_export"),
        reverse("admin:index"),
    ]


def test_anonymous_visitors_are_sent_to_login_from_every_page(flagged):
    client = Client()
    for url in pages(flagged.ad_id):
        response = client.get(url)
        assert response.status_code == 302, url
        assert "/login/" in response["Location"], url


def test_an_anonymous_decision_changes_nothing(flagged):
    item = ReviewItem.objects.get()
    response = Client().post(reverse("review_ui:decide", args=[item.pk]), CONFIRM)
    assert response.status_code == 302
    assert ReviewItem.objects.get().status == "pending"


def test_an_outsider_without_a_role_is_refused_every_review_page(outsider_client, flagged):
    for url in pages(flagged.ad_id)[:3] + pages(flagged.ad_id)[5:8]:
        assert outsider_client.get(url).status_code == 403, url
    assert not AuditEvent.objects.filter(action="ad.viewed").exists()


def test_an_officer_cannot_see_the_dashboard_or_export_the_audit_log(officer_client, flagged):
    assert officer_client.get(reverse("review_ui:dashboard")).status_code == 403
    assert officer_client.get(reverse("review_ui:audit_export")).status_code == 403
    assert officer_client.get(reverse("admin:index")).status_code == 302  # not staff


def test_login_page_is_chinese_by_default(db):
    response = Client().get(reverse("login"))
    assert response.status_code == 200
    assert "登录" in response.content.decode()


def test_the_language_can_be_switched_before_logging_in(db):
    client = Client()
    login = reverse("login")
    response = client.post(reverse("set_language"), {"language": "en", "next": login})
    assert response.status_code == 302 and response["Location"] == login
    assert client.cookies["django_language"].value == "en"
    page = client.get(login).content.decode()
    assert "Log in" in page and "登录" not in page


def test_english_is_selectable(officer_client, flagged):
    officer_client.post(reverse("set_language"), {"language": "en", "next": "/"})
    page = officer_client.get(reverse("review_ui:queue")).content.decode()
    assert "Review queue" in page and "审核队列" not in page


def test_an_officer_logs_in_and_sees_the_queue_highest_score_first(officer):
    # Two different ads (the same text twice would be one ad reposted: one review item).
    make_item(url="http://127.0.0.1/low", title="低分广告", score=0.71,
              text="暑假英语口语营，外教小班，报名从速。")
    make_item(url="http://127.0.0.1/high", title="高分广告", score=0.99)
    client = Client()
    response = client.post(reverse("login"), {"username": "officer1", "password": PASSWORD})
    assert response.status_code == 302
    page = client.get(reverse("review_ui:queue")).content.decode()
    assert page.index("高分广告") < page.index("低分广告")


def test_the_ad_page_shows_evidence_entities_and_snapshot(officer_client, flagged):
    make_item(url="http://127.0.0.1/other", title="同一个电话的另一条广告", wechat_ids=[])
    page = officer_client.get(reverse("review_ui:ad", args=[flagged.ad_id])).content.decode()
    assert "<mark>一对一辅导</mark>" in page and "<mark>提分</mark>" in page
    assert "13912345678" in page and "tutor_abc" in page
    assert Ad.objects.get(pk=flagged.ad_id).raw_sha256 in page
    assert "同一个电话的另一条广告" in page
    assert AuditEvent.objects.filter(action="ad.viewed").count() == 1


def test_the_ad_page_lists_grades_subjects_times_prices_and_addresses(officer_client):
    result = make_item(
        text="初二数学 英语小班，周六下午2:00-4:00，每节课150元。地址：岳麓区麓山路12号",
    )
    page = officer_client.get(reverse("review_ui:ad", args=[result.ad_id])).content.decode()
    for expected in ("初二", "数学", "英语", "周六", "下午2:00-4:00", "150元", "岳麓区麓山路12号"):
        assert expected in page, expected


def test_evidence_given_as_spans_highlights_exactly_those_characters(officer_client):
    text = "提分提分 一对一"
    result = make_item(text=text, verdict={
        "score": 0.9, "label": 1, "category": "open_tutoring", "model_version": "m",
        "evidence": [{"start": 2, "end": 4, "text": "提分", "weight": 0.5}],
    })
    page = officer_client.get(reverse("review_ui:ad", args=[result.ad_id])).content.decode()
    assert "提分<mark>提分</mark> 一对一" in page


def test_the_snapshot_is_served_as_inert_text_or_as_a_sandboxed_page(officer_client):
    result = make_item(raw_body=b"<html><script>alert(1)</script></html>")
    url = reverse("review_ui:snapshot", args=[result.ad_id])
    response = officer_client.get(url, {"as": "source"})
    assert response["Content-Type"].startswith("text/plain")
    assert "sandbox" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    page = officer_client.get(url, {"as": "frame"})
    assert page["Content-Type"].startswith("text/html")
    csp = page["Content-Security-Policy"]
    assert csp.startswith("sandbox") and "default-src 'none'" in csp and "script" not in csp
    assert "<script" not in page.content.decode()
    assert officer_client.get(url, {"as": "exe"}).status_code == 400
    assert AuditEvent.objects.filter(action="ad.snapshot_viewed").count() == 1


def test_an_officer_decision_is_recorded_with_reason_note_and_audit_row(
    officer_client, officer, flagged
):
    item = ReviewItem.objects.get()
    response = officer_client.post(
        reverse("review_ui:decide", args=[item.pk]), {**CONFIRM, "note": "周末补课"}
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.status, item.reason, item.decided_by) == ("confirmed", "open_tutoring", officer)
    decision = Decision.objects.get()
    assert (decision.officer, decision.note) == (officer, "周末补课")
    assert decision.reason == "open_tutoring"
    event = AuditEvent.objects.get(action="item.decided")
    assert event.actor == officer and event.detail["decision"] == "confirmed"
    assert event.detail["reason"] == "open_tutoring"


@pytest.mark.parametrize("form", [
    {"decision": "confirmed", "reason": "adult"},          # a dismissal reason on a confirm
    {"decision": "dismissed", "reason": "open_tutoring"},  # a violation form on a dismissal
    {"decision": "dismissed"},                             # no reason
    {"decision": "delete", "reason": "adult"},             # no such decision
    {"decision": "confirmed", "reason": "open_tutoring", "case": "TW2026-00001"},  # not escalating
    {"decision": "escalated", "reason": "online", "case": "TW2026-99999"},  # no such case
    {"decision": "confirmed", "reason": "open_tutoring", "note": "长" * 2001},
])
def test_an_invalid_decision_is_a_400_and_changes_nothing(officer_client, flagged, form):
    item = ReviewItem.objects.get()
    response = officer_client.post(reverse("review_ui:decide", args=[item.pk]), form)
    assert response.status_code == 400
    assert ReviewItem.objects.get().status == "pending"
    assert not Decision.objects.exists() and not Case.objects.exists()


def test_escalating_opens_a_case_and_a_second_escalation_can_join_it(officer_client, officer):
    first = make_item(url="http://127.0.0.1/one")
    second = make_item(url="http://127.0.0.1/two")
    item1 = ReviewItem.objects.get(ad_id=first.ad_id)
    officer_client.post(reverse("review_ui:decide", args=[item1.pk]),
                        {"decision": "escalated", "reason": "study_room", "note": "同一机构"})
    case = Case.objects.get()
    assert ReviewItem.objects.get(pk=item1.pk).case == case
    item2 = ReviewItem.objects.get(ad_id=second.ad_id)
    response = officer_client.post(reverse("review_ui:decide", args=[item2.pk]),
                                   {"decision": "escalated", "reason": "study_room",
                                    "case": case.number})
    assert response.status_code == 302
    assert Case.objects.count() == 1
    assert ReviewItem.objects.get(pk=item2.pk).case == case
    assert AuditEvent.objects.filter(action="item.decided", detail__case=case.number).count() == 2


def test_a_second_decision_on_a_decided_item_is_a_409_that_changes_nothing(
    officer_client, flagged
):
    item = ReviewItem.objects.get()
    url = reverse("review_ui:decide", args=[item.pk])
    officer_client.post(url, CONFIRM)
    response = officer_client.post(url, DISMISS)
    assert response.status_code == 409
    assert "该条目已被处理" in response.content.decode()
    assert ReviewItem.objects.get().status == "confirmed"
    assert Decision.objects.count() == 1


def test_a_decision_without_csrf_token_is_refused(officer, flagged):
    client = Client(enforce_csrf_checks=True)
    client.force_login(officer)
    item = ReviewItem.objects.get()
    response = client.post(reverse("review_ui:decide", args=[item.pk]), CONFIRM)
    assert response.status_code == 403
    assert ReviewItem.objects.get().status == "pending"


def test_a_replayed_post_with_a_token_from_another_session_is_refused(officer, flagged):
    """A CSRF token lifted from one session does not work in another."""
    victim = Client(enforce_csrf_checks=True)
    victim.force_login(officer)
    victim.get(reverse("review_ui:ad", args=[flagged.ad_id]))
    token = victim.cookies["csrftoken"].value
    attacker = Client(enforce_csrf_checks=True)
    attacker.force_login(officer)
    item = ReviewItem.objects.get()
    response = attacker.post(reverse("review_ui:decide", args=[item.pk]),
                             {**CONFIRM, "csrfmiddlewaretoken": token})
    assert response.status_code == 403
    assert ReviewItem.objects.get().status == "pending"


def test_an_outsider_cannot_decide_claim_or_reverse(outsider_client, flagged):
    item = ReviewItem.objects.get()
    for name, data in (("decide", CONFIRM), ("claim", {}),
                       ("reverse", {"decision": "pending", "note": "x"})):
        response = outsider_client.post(reverse(f"review_ui:{name}", args=[item.pk]), data)
        assert response.status_code == 403, name
    assert ReviewItem.objects.get().status == "pending"
    assert not Decision.objects.exists()


def test_deciding_needs_post(officer_client, flagged):
    """A GET of decide/ opens the ad page instead (tests/review_ui/test_deciding.py)."""
    item = ReviewItem.objects.get()
    for name in ("claim", "release", "reverse"):
        assert officer_client.get(reverse(f"review_ui:{name}", args=[item.pk])).status_code == 405


def test_unknown_ids_are_404(officer_client, supervisor_client, db):
    assert officer_client.get(reverse("review_ui:ad", args=[999])).status_code == 404
    assert officer_client.get(reverse("review_ui:snapshot", args=[999])).status_code == 404
    for name in ("decide", "claim", "release"):
        response = officer_client.post(reverse(f"review_ui:{name}", args=[999]), CONFIRM)
        assert response.status_code == 404, name
    response = supervisor_client.post(reverse("review_ui:reverse", args=[999]),
                                      {"decision": "pending", "note": "x"})
    assert response.status_code == 404


def shown_latest_decision(client, ad_id: int) -> str:
    """The decision id the ad page's reversal form says it replaces."""
    page = client.get(reverse("review_ui:ad", args=[ad_id])).content.decode()
    found = re.search(r'<input type="hidden" name="reverses" value="(\d+)">', page)
    assert found, "no reversal form"
    return found.group(1)


def test_supervisor_reverses_a_decision_and_both_stay_in_the_history(
    officer_client, supervisor_client, supervisor, flagged
):
    item = ReviewItem.objects.get()
    officer_client.post(reverse("review_ui:decide", args=[item.pk]), CONFIRM)
    response = supervisor_client.post(reverse("review_ui:reverse", args=[item.pk]), {
        "decision": "dismissed", "reason": "news_or_notice", "note": "这是教育局通报",
        "reverses": shown_latest_decision(supervisor_client, flagged.ad_id),
    })
    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.status, item.reason) == ("dismissed", "news_or_notice")
    assert item.decided_by == supervisor
    first, second = Decision.objects.order_by("decided_at", "pk")
    assert second.reverses == first and second.officer == supervisor
    event = AuditEvent.objects.get(action="item.reversed")
    assert (event.detail["from"], event.detail["to"]) == ("confirmed", "dismissed")
    # Back to the queue: the item is pending again and can be decided afresh.
    supervisor_client.post(reverse("review_ui:reverse", args=[item.pk]),
                           {"decision": "pending", "note": "重新审核",
                            "reverses": shown_latest_decision(supervisor_client, flagged.ad_id)})
    item.refresh_from_db()
    assert item.status == "pending" and item.decided_by is None
    response = officer_client.post(reverse("review_ui:decide", args=[item.pk]), CONFIRM)
    assert response.status_code == 302


def test_an_officer_cannot_reverse(officer_client, flagged):
    item = ReviewItem.objects.get()
    officer_client.post(reverse("review_ui:decide", args=[item.pk]), CONFIRM)
    response = officer_client.post(reverse("review_ui:reverse", args=[item.pk]),
                                   {"decision": "dismissed", "reason": "adult", "note": "x"})
    assert response.status_code == 403
    assert ReviewItem.objects.get().status == "confirmed"


def test_reversing_a_pending_item_or_to_the_same_decision_is_a_409(
    officer_client, supervisor_client, flagged
):
    item = ReviewItem.objects.get()
    url = reverse("review_ui:reverse", args=[item.pk])
    assert supervisor_client.post(url, {**DISMISS, "note": "x"}).status_code == 409
    officer_client.post(reverse("review_ui:decide", args=[item.pk]), CONFIRM)
    latest = shown_latest_decision(supervisor_client, flagged.ad_id)
    response = supervisor_client.post(url, {**CONFIRM, "note": "x", "reverses": latest})
    assert response.status_code == 409 and "新的处理决定与当前相同" in response.content.decode()
    # a reversal needs a note
    assert supervisor_client.post(url, {**CONFIRM, "reverses": latest}).status_code == 400
    assert Decision.objects.count() == 1


def test_a_stale_or_replayed_reversal_is_a_409_and_keeps_the_later_decision(
    officer_client, supervisor_client, second_officer, flagged
):
    item = ReviewItem.objects.get()
    officer_client.post(reverse("review_ui:decide", args=[item.pk]), CONFIRM)
    url = reverse("review_ui:reverse", args=[item.pk])
    stale = {"decision": "dismissed", "reason": "adult", "note": "成人班",
             "reverses": shown_latest_decision(supervisor_client, flagged.ad_id)}
    assert supervisor_client.post(url, stale).status_code == 302
    # The same form data again (a double submit, a replay, a second supervisor's old page).
    response = supervisor_client.post(url, stale)
    assert response.status_code == 409
    assert "页面打开后" in response.content.decode()
    response = supervisor_client.post(url, {**stale, "decision": "escalated",
                                            "reason": "open_tutoring"})
    assert response.status_code == 409
    item.refresh_from_db()
    assert (item.status, item.reason) == ("dismissed", "adult")
    assert Decision.objects.count() == 2
    assert AuditEvent.objects.filter(action="item.reversed").count() == 1


def test_a_reversal_without_the_decision_it_replaces_is_a_409(
    officer_client, supervisor_client, flagged
):
    item = ReviewItem.objects.get()
    officer_client.post(reverse("review_ui:decide", args=[item.pk]), CONFIRM)
    url = reverse("review_ui:reverse", args=[item.pk])
    assert supervisor_client.post(url, {**DISMISS, "note": "x"}).status_code == 409
    assert supervisor_client.post(url, {**DISMISS, "note": "x", "reverses": "abc"}).status_code \
        == 400
    assert ReviewItem.objects.get().status == "confirmed"


def test_reversing_to_escalated_opens_a_case(officer_client, supervisor_client, supervisor,
                                             flagged):
    item = ReviewItem.objects.get()
    officer_client.post(reverse("review_ui:decide", args=[item.pk]), CONFIRM)
    response = supervisor_client.post(reverse("review_ui:reverse", args=[item.pk]), {
        "decision": "escalated", "reason": "open_tutoring", "note": "涉及多个校区",
        "reverses": shown_latest_decision(supervisor_client, flagged.ad_id),
    })
    assert response.status_code == 302
    item.refresh_from_db()
    case = Case.objects.get()
    assert item.status == "escalated" and item.case == case and case.opened_by == supervisor
    assert Decision.objects.order_by("-pk").first().case == case
    assert AuditEvent.objects.get(action="item.reversed").detail["case"] == case.number
    page = supervisor_client.get(reverse("review_ui:ad", args=[flagged.ad_id])).content.decode()
    assert case.number in page
    # Another reason for the same escalation keeps its case.
    supervisor_client.post(reverse("review_ui:reverse", args=[item.pk]), {
        "decision": "escalated", "reason": "online", "note": "线上为主",
        "reverses": shown_latest_decision(supervisor_client, flagged.ad_id),
    })
    assert Case.objects.count() == 1 and ReviewItem.objects.get().case == case


def test_the_audit_log_shows_an_officer_their_own_actions_and_a_supervisor_everyones(
    officer_client, second_officer_client, supervisor_client, flagged
):
    officer_client.get(reverse("review_ui:ad", args=[flagged.ad_id]))
    second_officer_client.get(reverse("review_ui:ad", args=[flagged.ad_id]))
    own = officer_client.get(reverse("review_ui:audit")).content.decode()
    assert "officer1" in own and "officer2" not in own
    everyone = supervisor_client.get(reverse("review_ui:audit")).content.decode()
    assert "officer1" in everyone and "officer2" in everyone
    filtered = supervisor_client.get(reverse("review_ui:audit"), {"actor": "officer2"})
    assert "officer1</td>" not in filtered.content.decode()


def test_the_work_page_shows_a_supervisor_every_officers_decisions(
    officer_client, second_officer_client, supervisor_client
):
    one, two = make_item(url="http://127.0.0.1/1"), make_item(url="http://127.0.0.1/2")
    first = ReviewItem.objects.get(ad_id=one.ad_id)
    officer_client.post(reverse("review_ui:decide", args=[first.pk]), CONFIRM)
    second_officer_client.post(
        reverse("review_ui:decide", args=[ReviewItem.objects.get(ad_id=two.ad_id).pk]), DISMISS)
    mine = officer_client.get(reverse("review_ui:work")).content.decode()
    assert "officer1" in mine and "officer2" not in mine
    everyone = supervisor_client.get(reverse("review_ui:work")).content.decode()
    assert "officer1" in everyone and "officer2" in everyone


def test_the_admin_cannot_change_or_delete_audit_rows(db, flagged):
    from django.contrib.auth import get_user_model

    root = get_user_model().objects.create_superuser("root", password=PASSWORD)
    client = Client()
    client.force_login(root)
    event = AuditEvent.objects.first()
    change = reverse("admin:review_ui_auditevent_change", args=[event.pk])
    assert client.get(change).status_code == 200  # viewable
    response = client.post(change, {"action": "tampered"})
    assert response.status_code == 403
    delete = reverse("admin:review_ui_auditevent_delete", args=[event.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.get(pk=event.pk).action == event.action


def test_a_supervisor_manages_sources_in_the_admin(supervisor_client, flagged):
    assert supervisor_client.get(reverse("admin:review_ui_source_changelist")).status_code == 200
    assert supervisor_client.get(reverse("admin:auth_user_changelist")).status_code == 403


def test_an_admin_manages_users_and_institution_lists(admin_user):
    client = Client()
    client.force_login(admin_user)
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 200
    response = client.post(reverse("admin:review_ui_institution_add"), {
        "name": "某某托管中心", "kind": "blacklisted", "phones": '["13912345678"]',
        "wechat_ids": "[]", "region": "", "address": "", "note": "",
    })
    assert response.status_code == 302


def test_an_ad_matching_a_blacklisted_institution_says_so(officer_client, flagged):
    from review_ui.models import Institution

    Institution.objects.create(name="黑名单托管班", kind="blacklisted", phones=["13912345678"])
    page = officer_client.get(reverse("review_ui:ad", args=[flagged.ad_id])).content.decode()
    assert "黑名单托管班" in page


PAYLOAD = '<script>alert("xss")</script><img src=x onerror=alert(1)>'


def test_an_ad_carrying_script_renders_inert(officer_client):
    result = make_item(
        url="http://127.0.0.1/post/x?a=<script>", title=f"标题{PAYLOAD}", text=f"正文{PAYLOAD}",
        phones=[], wechat_ids=[PAYLOAD],
        verdict={"score": 0.9, "label": 1, "category": PAYLOAD, "evidence": ["<script>", "正文"],
                 "model_version": "m"},
    )
    for url in (reverse("review_ui:queue"), reverse("review_ui:ad", args=[result.ad_id]),
                reverse("review_ui:audit")):
        page = officer_client.get(url).content.decode()
        assert "<script>alert" not in page, url
        assert "<img src=x" not in page, url
    page = officer_client.get(reverse("review_ui:ad", args=[result.ad_id])).content.decode()
    assert "&lt;script&gt;" in page


def test_span_evidence_highlights_exactly_its_characters(officer_client):
    text = "数学很好。周末补 习班，数学一对一"
    result = make_item(
        title="初二 s x 辅导", text=text,
        verdict={"score": 0.9, "label": 1, "category": "open_tutoring", "model_version": "m",
                 "evidence": [
                     {"start": 7, "end": 10, "text": "补 习", "weight": 2.0, "field": "text"},
                     {"start": 3, "end": 6, "text": "s x", "weight": 1.0, "field": "title"},
                 ]},
    )
    page = officer_client.get(reverse("review_ui:ad", args=[result.ad_id])).content.decode()
    assert "周末<mark>补 习</mark>班" in page
    assert "初二 <mark>s x</mark> 辅导" in page
    # the other "数学" in the text is not evidence and stays plain
    assert "<mark>数学</mark>" not in page


def test_a_javascript_url_is_never_a_link(officer_client):
    result = make_item(url="javascript:alert(document.cookie)//")
    page = officer_client.get(reverse("review_ui:ad", args=[result.ad_id])).content.decode()
    assert 'href="javascript:' not in page
    assert "javascript:alert(document.cookie)//" in page


def test_the_audit_page_names_actions_in_the_users_language(officer_client, supervisor_client,
                                                             flagged):
    item = ReviewItem.objects.get()
    officer_client.post(reverse("review_ui:decide", args=[item.pk]), CONFIRM)
    page = supervisor_client.get(reverse("review_ui:audit")).content.decode()
    assert "记录处理决定" in page and "进入审核队列" in page
    assert ">item.decided<" not in page and 'title="item.decided"' in page
    supervisor_client.post(reverse("set_language"), {"language": "en", "next": "/"})
    page = supervisor_client.get(reverse("review_ui:audit")).content.decode()
    assert "decision recorded" in page and ">item.decided<" not in page
    ad_page = supervisor_client.get(reverse("review_ui:ad", args=[flagged.ad_id]))
    assert "decision recorded" in ad_page.content.decode()
    # The export keeps the codes.
    export = supervisor_client.get(reverse("review_ui:audit_export")).content.decode("utf-8-sig")
    assert ",item.decided," in export and "decision recorded" not in export


def test_every_audit_action_written_has_a_translated_name():
    from pathlib import Path

    from django.utils import translation

    from review_ui.models import AUDIT_ACTIONS

    written = set()
    for path in Path(__file__).resolve().parents[2].joinpath("review_ui").rglob("*.py"):
        written |= set(re.findall(r'(?:record\([^,()]+, |_ACTION = )"([a-z]+\.[a-z_]+)"',
                                  path.read_text()))
    assert len(written) > 20 and written <= set(AUDIT_ACTIONS), written - set(AUDIT_ACTIONS)
    with translation.override("zh-hans"):
        untranslated = [code for code, label in AUDIT_ACTIONS.items()
                        if not re.search(r"[\u4e00-\u9fff]", str(label))]
    assert not untranslated


def test_an_ad_whose_text_a_fallback_found_says_so_on_its_page(officer_client):
    marked = make_item(url="http://127.0.0.1/post/fallback", extraction="html.parser")
    plain = make_item(url="http://127.0.0.1/post/plain")
    assert Ad.objects.get(pk=marked.ad_id).extraction == "html.parser"
    page = officer_client.get(reverse("review_ui:ad", args=[marked.ad_id])).content.decode()
    assert "正文由备用解析提取" in page and 'title="html.parser"' in page
    page = officer_client.get(reverse("review_ui:ad", args=[plain.ad_id])).content.decode()
    assert "正文由备用解析提取" not in page
