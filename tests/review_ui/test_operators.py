"""Operators (issue 19 point 1): ads linked by shared phones, WeChat ids and near-copies, kept
up to date by the store as ads arrive; hubs that link nothing; splits that stay; the operator
page, the queue's line and ranking, and the ``operator`` field of the exports and the API."""

from __future__ import annotations

import csv
import io
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from review_ui import exports
from review_ui.models import (
    Ad,
    AdOperator,
    AuditEvent,
    Operator,
    OperatorHub,
    ReviewItem,
)
from review_ui.operators.linking import rebuild
from tests.review_ui.conftest import CONFIRM, make_item

pytestmark = pytest.mark.django_db

ESCALATE = {"decision": "escalated", "reason": "open_tutoring"}


def ad(n: int, phones: list[str] | None = None, wechat: list[str] | None = None, **extra) -> int:
    """An ad of its own text, with only the contacts given."""
    return make_item(
        url=f"http://127.0.0.1/op/{n}", phones=phones or [], wechat_ids=wechat or [], **extra
    ).ad_id


def operator_of(ad_id: int) -> int:
    return AdOperator.objects.get(ad_id=ad_id).operator_id


def page(operator_id: int) -> str:
    return reverse("operators:operator", args=[operator_id])


# --- linking --------------------------------------------------------------------------------


def test_ads_sharing_a_phone_are_one_operator_and_an_unrelated_ad_is_not():
    a = ad(1, ["13911112222"], ["wx_a1"])
    b = ad(2, ["13911112222"], ["wx_b1"])
    c = ad(3, ["13933334444"], ["wx_c1"])
    assert operator_of(a) == operator_of(b) != operator_of(c)
    assert Operator.objects.get(pk=operator_of(a)).size == 2


def test_ads_sharing_a_wechat_id_are_one_operator():
    a = ad(1, ["13911112222"], ["shared_wx"])
    b = ad(2, ["13955556666"], ["shared_wx"])
    assert operator_of(a) == operator_of(b)


def test_near_copies_with_different_contacts_are_one_operator():
    text = (
        "初中数学一对一辅导，周末上门，提分快，在职老师亲授。"
        "重点中学老师，小班教学，效果看得见。欢迎家长咨询。"
    )
    a = ad(1, ["13911112222"], text=text + "电话 13911112222")
    b = ad(2, ["13977778888"], text=text.replace("提分快", "提分快👍") + "电话 13977778888")
    assert Ad.objects.get(pk=a).duplicate_group_id == Ad.objects.get(pk=b).duplicate_group_id
    assert operator_of(a) == operator_of(b)


def test_links_are_transitive_and_a_bridging_ad_merges_two_operators():
    a = ad(1, ["13911112222"])
    c = ad(3, wechat=["wx_far"])
    first, second = operator_of(a), operator_of(c)
    assert first != second
    b = ad(2, ["13911112222"], ["wx_far"])  # shares a phone with a, a WeChat id with c
    assert operator_of(a) == operator_of(b) == operator_of(c)
    survivor = operator_of(a)
    gone = ({first, second} - {survivor}).pop()
    assert Operator.objects.get(pk=gone).merged_into_id == survivor
    assert Operator.objects.get(pk=survivor).size == 3
    merged = AuditEvent.objects.get(action="operator.merged")
    assert merged.detail["into"] == survivor and merged.detail["from"] == gone


def test_a_hub_contact_links_no_ads_and_is_said_so(settings, officer_client):
    settings.TUTORWATCH_OPERATOR_HUB_CAP = 3
    service = "4008001234"
    ids = [ad(n, [service], [f"wx_own{n}"]) for n in range(3)]
    assert len({operator_of(i) for i in ids}) == 1  # up to the cap, it links
    ids.append(ad(3, [service], ["wx_own3"]))
    # The fourth ad makes it a hub: the operator it glued is taken apart, and it links no more.
    assert len({operator_of(i) for i in ids}) == 4
    hub = OperatorHub.objects.get(value=service)
    assert hub.ads == 4
    assert AuditEvent.objects.filter(action="operator.hub_found").count() == 1
    ids.append(ad(4, [service], ["wx_own0"]))  # a contact that is no hub still links
    assert operator_of(ids[-1]) == operator_of(ids[0])
    assert len({operator_of(i) for i in ids}) == 4
    out = StringIO()
    call_command("operators", "hubs", stdout=out)
    assert service in out.getvalue()
    html = officer_client.get(page(operator_of(ids[0]))).content.decode()
    assert "links no ads" in html or "不用于关联" in html


# --- splits ---------------------------------------------------------------------------------


def split_off(client, operator_id: int, ads: list[int], note: str = "两家不同的机构"):
    return client.post(reverse("operators:split", args=[operator_id]), {"ads": ads, "note": note})


def test_a_supervisor_splits_an_operator_audited_and_the_split_stays(supervisor_client):
    a = ad(1, ["13911112222"], ["wx_a"])
    b = ad(2, ["13911112222"], ["wx_b"])
    c = ad(3, ["13911112222"], ["wx_c"])
    operator = operator_of(a)
    response = split_off(supervisor_client, operator, [c])
    assert response.status_code == 302
    assert operator_of(a) == operator_of(b) == operator != operator_of(c)
    event = AuditEvent.objects.get(action="operator.split")
    assert event.detail["ads"] == [c] and event.detail["new_operator"] == operator_of(c)
    assert event.actor.username == "supervisor1"
    # New ads linked to both parts join one of them; the parts stay apart.
    d = ad(4, ["13911112222"], ["wx_c"])
    assert operator_of(a) != operator_of(c)
    assert operator_of(d) in (operator_of(a), operator_of(c))
    # So does a rebuild from scratch.
    rebuild()
    assert operator_of(a) == operator_of(b) != operator_of(c)


def test_a_split_is_refused_to_officers_and_needs_a_post_csrf_a_note_and_own_ads(
    officer_client, supervisor, supervisor_client
):
    a = ad(1, ["13911112222"])
    b = ad(2, ["13911112222"])
    other = ad(3, ["13900000000"])
    operator = operator_of(a)
    assert split_off(officer_client, operator, [b]).status_code == 403
    assert supervisor_client.get(reverse("operators:split", args=[operator])).status_code == 405
    assert split_off(supervisor_client, operator, [b], note="").status_code == 400
    refused = split_off(supervisor_client, operator, [other])
    assert refused.status_code == 400
    assert split_off(supervisor_client, operator, [a, b]).status_code == 400  # not all of it
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(supervisor)
    assert split_off(strict, operator, [b]).status_code == 403
    assert operator_of(a) == operator_of(b)
    assert not AuditEvent.objects.filter(action="operator.split").exists()


def test_a_merge_of_operators_that_each_have_cases_keeps_both_cases_and_is_audited(officer_client):
    a = ad(1, ["13911112222"])
    c = ad(3, wechat=["wx_far"])
    for ad_id in (a, c):
        item = ReviewItem.objects.get(ad_id=ad_id)
        assert (
            officer_client.post(reverse("review_ui:decide", args=[item.pk]), ESCALATE).status_code
            == 302
        )
    cases = {ReviewItem.objects.get(ad_id=i).case_id for i in (a, c)}
    assert len(cases) == 2
    ad(2, ["13911112222"], ["wx_far"])
    merged = AuditEvent.objects.get(action="operator.merged")
    assert merged.detail["both_have_cases"] is True
    assert len(merged.detail["cases_into"]) == len(merged.detail["cases_from"]) == 1
    assert {ReviewItem.objects.get(ad_id=i).case_id for i in (a, c)} == cases  # untouched
    operator = Operator.objects.get(pk=operator_of(a))
    assert operator.confirmed == 2
    html = officer_client.get(page(operator.pk)).content.decode()
    for case_id in cases:
        assert reverse("review_ui:case", args=[case_id]) in html


def test_rebuild_links_a_store_whose_ads_have_no_operator_yet():
    a = ad(1, ["13911112222"])
    b = ad(2, ["13911112222"], ["wx_b"])
    c = ad(3, wechat=["wx_b"])
    AdOperator.objects.all().delete()
    Operator.objects.all().delete()
    out = StringIO()
    call_command("operators", "rebuild", stdout=out)
    assert operator_of(a) == operator_of(b) == operator_of(c)
    assert Operator.objects.get(pk=operator_of(a)).size == 3
    assert "3" in out.getvalue()


# --- pages ----------------------------------------------------------------------------------


def test_the_operator_page_needs_a_role_and_escapes_crawled_text(
    client, officer_client, outsider_client
):
    a = ad(1, ["13911112222"], title="<script>alert(1)</script>补习", region="长沙-<b>雨花区</b>")
    ad(2, ["13911112222"])
    url = page(operator_of(a))
    assert client.get(url).status_code == 302  # to the login page
    assert outsider_client.get(url).status_code == 403
    response = officer_client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "<b>雨花区</b>" not in html
    assert "13911112222" in html
    assert officer_client.get(page(999999)).status_code == 404


def test_a_merged_operator_page_forwards_and_the_ad_page_links_its_operator(officer_client):
    a = ad(1, ["13911112222"])
    c = ad(3, wechat=["wx_far"])
    gone = operator_of(c)
    ad(2, ["13911112222"], ["wx_far"])
    survivor = operator_of(a)
    if gone == survivor:
        gone = (set(Operator.objects.values_list("pk", flat=True)) - {survivor}).pop()
    response = officer_client.get(page(gone))
    assert response.status_code == 302 and response["Location"] == page(survivor)
    html = officer_client.get(reverse("review_ui:ad", args=[a])).content.decode()
    assert page(survivor) in html


def test_the_queue_shows_the_operator_line_and_ranks_an_operator_confirmed_before_higher(
    officer_client, supervisor
):
    confirmed = ad(1, ["13911112222"], score=0.9)
    same = ad(2, ["13911112222"], ["wx_same"], score=0.9)
    stranger = ad(3, ["13900000000"], score=0.9)
    item = ReviewItem.objects.get(ad_id=confirmed)
    before = ReviewItem.objects.get(ad_id=same).priority
    stranger_priority = ReviewItem.objects.get(ad_id=stranger).priority
    assert (
        officer_client.post(reverse("review_ui:decide", args=[item.pk]), CONFIRM).status_code == 302
    )
    raised = ReviewItem.objects.get(ad_id=same).priority
    assert raised > before and raised > stranger_priority
    assert ReviewItem.objects.get(ad_id=stranger).priority == stranger_priority
    html = officer_client.get(reverse("review_ui:queue")).content.decode()
    operator = operator_of(same)
    assert page(operator) in html
    assert f"经营者 #{operator}：2 条广告，1 个来源，已确认违规 1 次" in html
    assert "其经营者此前确认违规 1 次（+0.20）" in html  # the priority's reason
    rows = html.split("<tbody>")[1]
    assert rows.index(f"/ads/{same}/") < rows.index(f"/ads/{stranger}/")
    # A supervisor returning the confirmed item to the queue takes the bonus away again.
    item.refresh_from_db()
    item.reverse(supervisor, "pending", "看错了", reverses=item.decisions.latest("pk").pk)
    assert Operator.objects.get(pk=operator).confirmed == 0
    assert ReviewItem.objects.get(ad_id=same).priority == pytest.approx(before)


# --- exports and API ------------------------------------------------------------------------


def test_exports_and_the_api_carry_the_operator(officer):
    a = ad(1, ["13911112222"])
    b = ad(2, ["13911112222"])
    operator = operator_of(a)
    out = io.BytesIO()
    exports.write_jsonl(out)
    rows = [json.loads(line) for line in out.getvalue().decode().splitlines()]
    assert [row["operator"] for row in rows] == [operator, operator]
    out = io.BytesIO()
    exports.write_csv(out)
    table = list(csv.reader(io.StringIO(out.getvalue().decode("utf-8-sig"))))
    column = table[0].index("operator")
    assert table[0] == exports.FLAT_FIELDS and column >= 13  # added after the earlier columns
    assert {row[column] for row in table[1:]} == {str(operator)}
    out = io.BytesIO()
    exports.write_xlsx(out)
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(out.getvalue())).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][column] == "operator"
    assert {str(r[column]) for r in values[1:]} == {str(operator)}
    api = APIClient()
    api.force_authenticate(officer)
    data = api.get(reverse("api:ad", args=[b])).json()
    assert data["operator"] == operator


def test_a_batch_ranks_its_items_with_one_read_of_the_operators_confirmed_counts():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from review_ui.operators.summary import bonus_for, operator_bonus
    from review_ui.store.ingest import ingest
    from review_ui.store.review_items import item_priority
    from tests.review_ui.test_batch_store import item

    first = ad(1, ["13911112222"], score=0.9)
    Operator.objects.filter(pk=operator_of(first)).update(confirmed=3)
    texts = ["小学奥数一对一，暑期集训，名师授课", "初中物理寒假冲刺班，小班教学，先试听",
             "高中英语作文批改，线上答疑，随时联系", "钢琴陪练，考级曲目，上门或线上均可"]
    batch = [item(f"op-batch/{n}", f"广告{n}", text, phones=("13911112222",) if n < 3 else ())
             for n, text in enumerate(texts)]
    with CaptureQueriesContext(connection) as queries:
        results = ingest(batch)
    reads = [q["sql"] for q in queries.captured_queries
             if "confirmed" in q["sql"] and q["sql"].lstrip().upper().startswith("SELECT")]
    # One read to queue the batch, one to re-rank the items whose contact counts changed: not
    # one per item (4 here, then 4 again).
    assert len(reads) <= 2, reads
    # Ranked as one item at a time would rank them, each with its own query: the three linked
    # to the operator with its three confirmed items get the bonus, the fourth does not.
    for result, bonus in zip(results, [bonus_for(3)] * 3 + [0.0], strict=True):
        fresh = Ad.objects.select_related("verdict").get(pk=result.ad_id)
        assert operator_bonus(fresh) == bonus
        assert ReviewItem.objects.get(ad_id=result.ad_id).priority == pytest.approx(
            item_priority(fresh, fresh.verdict.score))
