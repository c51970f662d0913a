"""Near-duplicate reposts: one group, one review item, every copy stored and linked."""

from __future__ import annotations

import itertools

import pytest
from django.urls import reverse

from review_ui import exports
from review_ui.duplicates import THRESHOLD, fold, jaccard, shingles
from review_ui.models import Ad, AuditEvent, NearDuplicateKey, ReviewItem
from review_ui.store.review_items import item_priority
from tests.review_ui.conftest import make_item

BASE = ("初中数学一对一辅导，周末上门，提分快，在职老师亲授。重点中学老师，小班教学，效果看得见。"
        "欢迎家长咨询。")
REPOSTS = {
    "original": ("初中数学一对一辅导", BASE + "电话 13912345678"),
    "phone": ("初中数学一对一辅导", BASE + "电话 13800001111"),
    "emoji": ("🔥初中数学一对一辅导🔥",
              BASE.replace("提分快", "提分快👍👍") + "电话 13912345678 😀"),
    "punctuation": ("初中数学一对一辅导!!",
                    BASE.replace("，", ",").replace("。", "! ") + "电话:13912345678"),
    "sentence": ("初中数学一对一辅导",
                 BASE.replace("欢迎家长咨询。", "寒假班火热报名中，名额有限。")
                 + "电话 13912345678"),
}
UNRELATED = ("二手钢琴转让", "九成新立式钢琴，琴凳琴罩一起送，自提优先，价格可小刀，有意者速联系。")


def submit_all(order: list[str], score: float = 0.9) -> dict[str, int]:
    ids = {}
    for name in order:
        title, text = REPOSTS[name]
        ids[name] = make_item(url=f"http://127.0.0.1/post/{name}", title=title, text=text,
                              score=score).ad_id
    return ids


def test_the_folded_reposts_are_similar_and_an_unrelated_ad_is_not():
    grams = {name: shingles(fold(*post)) for name, post in REPOSTS.items()}
    for a, b in itertools.combinations(grams, 2):
        assert jaccard(grams[a], grams[b]) >= THRESHOLD, (a, b)
    other = shingles(fold(*UNRELATED))
    assert all(jaccard(other, g) < 0.2 for g in grams.values())


def test_reposts_differing_in_phone_emoji_punctuation_and_a_sentence_are_one_group(db):
    ids = submit_all(list(REPOSTS))
    unrelated = make_item(url="http://127.0.0.1/post/piano", title=UNRELATED[0], text=UNRELATED[1])
    ads = Ad.objects.filter(pk__in=ids.values())
    assert ads.count() == len(REPOSTS)  # every copy is stored
    groups = {ad.duplicate_group_id for ad in ads}
    assert len(groups) == 1 and None not in groups
    assert Ad.objects.get(pk=unrelated.ad_id).duplicate_group_id is None
    # One review item for the group (plus the unrelated ad's own).
    assert ReviewItem.objects.filter(ad__duplicate_group_id__in=groups).count() == 1
    assert ReviewItem.objects.filter(ad_id=unrelated.ad_id).count() == 1
    original = Ad.objects.get(pk=ids["original"])
    assert set(original.copies().values_list("pk", flat=True)) == set(ids.values()) - {original.pk}


def test_a_copy_is_not_queued_again_and_raises_the_group_priority(db):
    first = make_item(url="http://127.0.0.1/post/a", title=REPOSTS["original"][0],
                      text=REPOSTS["original"][1], score=0.8)
    second = make_item(url="http://127.0.0.1/post/b", title=REPOSTS["phone"][0],
                       text=REPOSTS["phone"][1], score=0.95)
    assert first.queued and not second.queued and second.copy_of_queued
    assert Ad.objects.get(pk=first.ad_id).duplicate_group_id == second.group_id is not None
    second_ad = Ad.objects.get(pk=second.ad_id)
    assert ReviewItem.objects.get().priority == pytest.approx(item_priority(second_ad, 0.95))


@pytest.mark.parametrize("order", [
    ["original", "phone", "emoji", "punctuation", "sentence"],
    ["sentence", "punctuation", "emoji", "phone", "original"],
    ["emoji", "sentence", "original", "punctuation", "phone"],
])
def test_the_grouping_does_not_depend_on_the_order_copies_arrive_in(db, order):
    submit_all(order)
    assert Ad.objects.values("duplicate_group_id").distinct().count() == 1
    active = ReviewItem.objects.exclude(status=ReviewItem.Status.MERGED)
    assert active.count() == 1


# a and c are too different to be copies; b is a copy of both.
_SHARED = "小学英语自然拼读小班，外教授课，每周两次，试听免费，教材全包。"
_NEAR = "地址在东门，停车方便，环境安静。"
_FAR = "寒假开班，名额二十个，先到先得。"
BRIDGE = {
    "a": _SHARED + _NEAR,
    "c": _SHARED.replace("外教授课", "中教授课") + _FAR + "另有暑假班。",
    "b": _SHARED + _NEAR[:6] + _FAR,
}


def submit_bridge(name: str) -> object:
    return make_item(url=f"http://127.0.0.1/{name}", title="英语拼读", text=BRIDGE[name])


def test_groups_joined_by_a_bridging_copy_merge_with_one_review_item_left(db):
    grams = {k: shingles(fold("英语拼读", t)) for k, t in BRIDGE.items()}
    assert jaccard(grams["a"], grams["c"]) < THRESHOLD
    assert min(jaccard(grams["a"], grams["b"]), jaccard(grams["c"], grams["b"])) >= THRESHOLD
    assert submit_bridge("a").queued and submit_bridge("c").queued
    submit_bridge("b")
    assert Ad.objects.values("duplicate_group_id").distinct().count() == 1
    assert ReviewItem.objects.filter(status=ReviewItem.Status.PENDING).count() == 1
    merged = ReviewItem.objects.get(status=ReviewItem.Status.MERGED)
    assert AuditEvent.objects.filter(action="item.merged", item=merged).count() == 1


def test_a_decided_item_survives_a_merge(db, officer):
    submit_bridge("a")
    c = submit_bridge("c")
    ReviewItem.objects.get(ad_id=c.ad_id).decide(officer, ReviewItem.Status.CONFIRMED,
                                                    reason="open_tutoring")
    submit_bridge("b")
    statuses = sorted(ReviewItem.objects.values_list("status", flat=True))
    assert statuses == ["confirmed", "merged"]


def _state() -> tuple:
    return (NearDuplicateKey.objects.count(), AuditEvent.objects.count(),
            ReviewItem.objects.count(), sorted(Ad.objects.values_list("url", "duplicate_group_id")))


def test_resubmitting_unchanged_copies_changes_nothing(db):
    submit_all(list(REPOSTS))
    before = _state()
    submit_all(list(reversed(REPOSTS)))
    after = _state()
    assert before == after


def test_short_texts_are_never_called_copies(db):
    make_item(url="http://127.0.0.1/1", title="家教", text="数学")
    make_item(url="http://127.0.0.1/2", title="家教", text="数学")
    assert not Ad.objects.exclude(duplicate_group=None).exists()


def test_the_ad_page_shows_its_copies_and_the_group_item(officer_client, db):
    ids = submit_all(["original", "phone", "emoji"])
    holder = ReviewItem.objects.get().ad_id
    copy = next(pk for pk in ids.values() if pk != holder)
    page = officer_client.get(reverse("review_ui:ad", args=[copy])).content.decode()
    assert "另有 2 份重复帖" in page
    for other in set(ids.values()) - {copy}:
        assert reverse("review_ui:ad", args=[other]) in page
    assert "随重复帖一并审核" in page


def test_an_export_gives_a_copy_the_status_of_its_group_item(db):
    submit_all(["original", "phone"])
    rows = list(exports.rows())
    assert len(rows) == 2 and {row["status"] for row in rows} == {"pending"}


def test_a_merged_item_cannot_be_reversed(supervisor_client, db):
    submit_bridge("a")
    submit_bridge("c")
    submit_bridge("b")
    merged = ReviewItem.objects.get(status=ReviewItem.Status.MERGED)
    kept = ReviewItem.objects.get(status=ReviewItem.Status.PENDING)
    page = supervisor_client.get(reverse("review_ui:ad", args=[merged.ad_id])).content.decode()
    assert reverse("review_ui:reverse", args=[merged.pk]) not in page
    assert reverse("review_ui:ad", args=[kept.ad_id]) in page  # where the decision is made
    for form in ({"decision": "confirmed", "reason": "open_tutoring", "note": "x"},
                 {"decision": "pending", "note": "x"}):
        response = supervisor_client.post(reverse("review_ui:reverse", args=[merged.pk]), form)
        assert response.status_code == 409
        assert "已与重复帖的条目合并" in response.content.decode()
    assert ReviewItem.objects.get(pk=merged.pk).status == ReviewItem.Status.MERGED
    assert not merged.decisions.exists()
    assert not AuditEvent.objects.filter(action="item.reversed").exists()


def test_a_batch_asks_for_candidates_only_for_the_ads_an_earlier_ad_shares_a_key_with(db):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from review_ui.store.ingest import ingest
    from tests.review_ui.test_batch_store import item

    chess = ("少儿围棋周末班", "围棋启蒙，段位考级辅导，周六上午九点到十一点，体育馆二楼活动室。")
    texts = {"piano": UNRELATED, "original": REPOSTS["original"], "copy": REPOSTS["phone"],
             "chess": chess}
    with CaptureQueriesContext(connection) as queries:
        results = ingest([item(name, *text) for name, text in texts.items()])
    asked = [q["sql"] for q in queries.captured_queries if "LIMIT" in q["sql"]
             and "near" in q["sql"].lower()]
    assert len(asked) == 1, asked  # the copy's: no earlier ad shares a key with the others
    groups = {name: result.group_id for name, result in zip(texts, results, strict=True)}
    assert groups["original"] is not None and groups["copy"] == groups["original"]
    assert groups["piano"] is None and groups["chess"] is None
