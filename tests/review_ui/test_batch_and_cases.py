"""Batch decisions and case pages (issue 20 points 1 and 2): the items of one contact decided
together into one case, in one transaction and one audit row, roles and CSRF enforced; the case
page with its items, status, officers, notes added without a decision, and its audit rows."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from review_ui.case_notes import CaseNote
from review_ui.models import AuditEvent, Case, Decision, ReviewItem
from tests.review_ui.conftest import CONFIRM, make_item

PHONE = "13800001111"
ESCALATE = {"decision": "escalated", "reason": "open_tutoring", "note": "同一机构，多处发帖"}


def _sharing(n: int = 3, phone: str = PHONE) -> list[ReviewItem]:
    for i in range(n):
        make_item(url=f"http://127.0.0.1/shared/{phone}/{i}", title=f"周末补习 {i}",
                  phones=[phone], wechat_ids=[])
    return list(ReviewItem.objects.filter(ad__url__contains=f"/{phone}/").order_by("pk"))


def _batch_url(phone: str = PHONE, kind: str = "phone") -> str:
    return reverse("review_ui:batch", args=[kind]) + "?" + urlencode({"value": phone})


def _statuses() -> list[str]:
    return list(ReviewItem.objects.order_by("pk").values_list("status", flat=True))


def test_an_officer_escalates_a_contacts_items_into_one_case(officer_client, officer):
    items = _sharing(3)
    make_item(url="http://127.0.0.1/elsewhere", phones=["13700000000"], wechat_ids=[])
    page = officer_client.get(_batch_url()).content.decode()
    assert page.count('name="items"') == 3  # the other phone's ad is not offered
    assert '<option value="open_tutoring" selected>' in page  # the model's form, suggested
    response = officer_client.post(_batch_url(), {
        **ESCALATE, "items": [i.pk for i in items]})
    case = Case.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("review_ui:case", args=[case.pk])
    assert [i.status for i in ReviewItem.objects.filter(pk__in=[i.pk for i in items])] == [
        "escalated"] * 3
    assert set(ReviewItem.objects.filter(case=case).values_list("pk", flat=True)) == {
        i.pk for i in items}
    assert Decision.objects.filter(case=case, officer=officer).count() == 3
    batch_row = AuditEvent.objects.get(action="items.batch_decided")
    assert batch_row.detail["items"] == [i.pk for i in items]
    assert (batch_row.detail["group_kind"], batch_row.detail["group_value"]) == ("phone", PHONE)
    assert batch_row.detail["case"] == case.number
    assert AuditEvent.objects.filter(action="item.decided").count() == 3
    assert ReviewItem.objects.get(ad__url="http://127.0.0.1/elsewhere").status == "pending"


def test_only_the_ticked_items_are_decided_and_an_existing_case_is_joined(officer_client):
    items = _sharing(3)
    first = officer_client.post(_batch_url(), {**ESCALATE, "items": [items[0].pk]})
    assert first.status_code == 302
    case = Case.objects.get()
    officer_client.post(_batch_url(), {**ESCALATE, "case": case.number,
                                       "items": [items[2].pk]})
    assert Case.objects.count() == 1
    assert _statuses() == ["escalated", "pending", "escalated"]


def test_the_ad_page_links_to_the_batch_of_its_shared_phone(officer_client):
    items = _sharing(2)
    page = officer_client.get(reverse("review_ui:ad", args=[items[0].ad_id])).content.decode()
    assert f'href="{escape(_batch_url())}"' in page
    assert "一并处理" in page


def test_a_refused_batch_stores_nothing_and_keeps_the_note(officer_client):
    items = _sharing(2)
    response = officer_client.post(_batch_url(), {
        "decision": "dismissed", "reason": "open_tutoring", "note": "看过了，再说",
        "items": [i.pk for i in items]})
    assert response.status_code == 400
    page = response.content.decode()
    assert "看过了，再说" in page and "排除" in page
    assert _statuses() == ["pending", "pending"]
    assert not AuditEvent.objects.filter(action__in=["item.decided", "items.batch_decided"])


def test_an_item_of_another_contact_cannot_be_slipped_into_a_batch(officer_client):
    items = _sharing(2)
    other = make_item(url="http://127.0.0.1/other", phones=["13700000000"], wechat_ids=[])
    response = officer_client.post(_batch_url(), {
        **CONFIRM, "items": [items[0].pk, ReviewItem.objects.get(ad_id=other.ad_id).pk]})
    assert response.status_code == 400
    assert set(_statuses()) == {"pending"}


def test_an_item_claimed_by_another_officer_is_not_offered_nor_decided(
        officer_client, second_officer):
    items = _sharing(3)
    items[1].claim(second_officer)
    page = officer_client.get(_batch_url()).content.decode()
    assert page.count('name="items"') == 2 and "officer2" in page
    response = officer_client.post(_batch_url(), {**CONFIRM, "items": [i.pk for i in items]})
    assert response.status_code == 400  # not a choice offered
    assert set(_statuses()) == {"pending"}


def test_when_an_item_is_decided_meanwhile_nothing_of_the_batch_is_stored(
        officer_client, second_officer, monkeypatch):
    items = _sharing(2)
    from review_ui import batch_views

    real = batch_views.BatchForm.is_valid

    def decided_meanwhile(form):  # the other officer's decision lands after the form's check
        valid = real(form)
        ReviewItem.objects.get(pk=items[1].pk).decide(second_officer, **CONFIRM)
        return valid

    monkeypatch.setattr(batch_views.BatchForm, "is_valid", decided_meanwhile)
    response = officer_client.post(_batch_url(), {**ESCALATE, "items": [i.pk for i in items]})
    assert response.status_code == 409
    assert _statuses() == ["pending", "confirmed"]
    assert not Case.objects.exists()
    assert not AuditEvent.objects.filter(action="items.batch_decided").exists()


def test_batches_need_the_deciding_role_and_csrf(officer, outsider_client, supervisor_client):
    items = _sharing(2)
    assert outsider_client.get(_batch_url()).status_code == 403
    assert outsider_client.post(_batch_url(), {**CONFIRM, "items": [items[0].pk]}
                                ).status_code == 403
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(officer)
    assert strict.post(_batch_url(), {**CONFIRM, "items": [items[0].pk]}).status_code == 403
    assert set(_statuses()) == {"pending"}
    assert Client().get(_batch_url()).status_code == 302  # to the login page
    assert supervisor_client.get(_batch_url(kind="unknown")).status_code == 404
    assert supervisor_client.get(reverse("review_ui:batch", args=["phone"])).status_code == 404


def test_the_case_page_shows_items_status_officers_notes_and_audit(
        officer_client, supervisor_client, officer):
    items = _sharing(2)
    officer_client.post(_batch_url(), {**ESCALATE, "items": [i.pk for i in items]})
    case = Case.objects.get()
    url = reverse("review_ui:case", args=[case.pk])
    response = officer_client.post(reverse("review_ui:case_note", args=[case.pk]),
                                   {"text": "电话核实：机构承认周末开课"})
    assert response.status_code == 302 and response["Location"] == url
    note = CaseNote.objects.get()
    assert (note.case, note.author, note.text) == (case, officer, "电话核实：机构承认周末开课")
    assert AuditEvent.objects.filter(action="case.note_added",
                                     detail__case=case.number).count() == 1
    assert _statuses() == ["escalated", "escalated"]  # a note decides nothing

    page = supervisor_client.get(url).content.decode()
    assert "周末补习 0" in page and "周末补习 1" in page
    assert re.search(r'class="case-status">[^<]*已升级 2', page)
    assert "officer1" in page  # the officer who decided, among the officers
    assert "电话核实：机构承认周末开课" in page
    audit = re.search(r'<table class="case-audit">.*?</table>', page, re.S).group(0)
    assert "批量处理条目" in audit and f"批量依据：电话 · 分组值：{PHONE}" in audit
    assert "添加案件备注" in audit and "记录处理决定" in audit
    assert "decision=" not in audit and "escalated" not in audit
    assert reverse("review_ui:case_evidence", args=[case.pk]) in page


def test_an_empty_note_is_refused_on_the_page_and_outsiders_cannot_write(
        officer_client, outsider_client, supervisor):
    case = Case.objects.create(opened_by=supervisor)
    response = officer_client.post(reverse("review_ui:case_note", args=[case.pk]),
                                   {"text": "   "})
    assert response.status_code == 400 and "errornote" in response.content.decode()
    assert outsider_client.post(reverse("review_ui:case_note", args=[case.pk]),
                                {"text": "x"}).status_code == 403
    assert officer_client.get(reverse("review_ui:case_note", args=[case.pk])).status_code == 405
    assert not CaseNote.objects.exists()


@pytest.mark.parametrize("kind", ["wechat"])
def test_a_wechat_id_is_a_group_too(officer_client, kind):
    for i in range(2):
        make_item(url=f"http://127.0.0.1/wx/{i}", phones=[], wechat_ids=["jiajiao_888"])
    response = officer_client.post(_batch_url("jiajiao_888", kind), {
        **CONFIRM, "items": list(ReviewItem.objects.values_list("pk", flat=True))})
    assert response.status_code == 302
    assert set(_statuses()) == {"confirmed"}
    assert not Case.objects.exists()  # only an escalation goes into a case


def test_a_hostile_wechat_id_shared_by_two_ads_links_to_its_batch_inert(officer_client):
    hostile = '<script>alert(1)</script>/../"x'
    for i in range(2):
        make_item(url=f"http://127.0.0.1/hostile/{i}", phones=[], wechat_ids=[hostile])
    ad_id = ReviewItem.objects.order_by("pk").first().ad_id
    page = officer_client.get(reverse("review_ui:ad", args=[ad_id])).content.decode()
    assert "<script>alert(1)" not in page
    link = re.search(r'<ul class="batch-links"><li><a href="([^"]+)"', page).group(1)
    batch_page = officer_client.get(link.replace("&amp;", "&"))
    assert batch_page.status_code == 200
    assert batch_page.content.decode().count('name="items"') == 2
    assert "<script>alert(1)" not in batch_page.content.decode()


def test_an_operators_items_are_decided_together_from_the_ad_page(officer_client):
    """Three ads linked into one operator, only through one another (a WeChat id, then a
    phone): the ad page offers the operator's batch, and one escalation puts all three into
    one case; an ad of another operator is left alone."""
    from review_ui.models import AdOperator

    texts = ["初中物理辅导，周末上课", "高中化学一对一，在职老师", "小学英语托管，作业辅导"]
    contacts = [(["13800002221"], ["wx_same_op"]), (["13800002222"], ["wx_same_op"]),
                (["13800002222"], [])]
    for i, (text, (phones, wechat_ids)) in enumerate(zip(texts, contacts, strict=True)):
        make_item(url=f"http://127.0.0.1/op/{i}", title=text, text=text, phones=phones,
                  wechat_ids=wechat_ids)
    make_item(url="http://127.0.0.1/op/other", title="钢琴陪练", text="钢琴陪练 成人",
              phones=["13700009999"], wechat_ids=[])
    items = list(ReviewItem.objects.filter(ad__url__contains="/op/").exclude(
        ad__url__endswith="/other").order_by("pk"))
    operator_id = AdOperator.objects.get(ad_id=items[0].ad_id).operator_id
    assert {AdOperator.objects.get(ad_id=i.ad_id).operator_id for i in items} == {operator_id}
    url = _batch_url(str(operator_id), kind="operator")
    page = officer_client.get(reverse("review_ui:ad", args=[items[0].ad_id])).content.decode()
    assert f'href="{escape(url)}"' in page
    assert officer_client.get(url).content.decode().count('name="items"') == 3
    response = officer_client.post(url, {**ESCALATE, "items": [i.pk for i in items]})
    assert response.status_code == 302
    case = Case.objects.get()
    assert set(ReviewItem.objects.filter(case=case).values_list("pk", flat=True)) == {
        i.pk for i in items}
    assert ReviewItem.objects.get(ad__url="http://127.0.0.1/op/other").status == "pending"
    row = AuditEvent.objects.get(action="items.batch_decided")
    assert (row.detail["group_kind"], row.detail["group_value"]) == ("operator", str(operator_id))
    # A value that names no operator offers nothing to decide.
    assert 'name="items"' not in officer_client.get(
        _batch_url("x1", kind="operator")).content.decode()
