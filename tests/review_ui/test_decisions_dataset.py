"""Officers' decisions exported as labeled examples (``tutorwatch dataset export``)."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from classifier.corpus import read_jsonl
from classifier.normalize import MAX_CHARS
from review_ui.decisions_dataset import Tally, examples
from review_ui.models import Ad, ReviewItem, Source
from tests.review_ui.conftest import make_item

pytestmark = pytest.mark.django_db


def item_of(url: str) -> ReviewItem:
    return ReviewItem.objects.select_related("ad").get(ad__url=url)


def exported(tmp_path) -> tuple[list[dict], str]:
    out = tmp_path / "decisions.jsonl"
    from io import StringIO

    err = StringIO()
    call_command("dataset", "export", "-o", str(out), stderr=err)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    return rows, err.getvalue()


def test_each_standing_decision_is_one_example_the_corpus_reader_accepts(
    tmp_path, officer, supervisor
):
    make_item(url="http://127.0.0.1/a", title="初中数学 周末小班")
    make_item(url="http://127.0.0.1/b", title="成人英语口语")
    make_item(url="http://127.0.0.1/c", title="晚托 作业辅导 讲题")
    make_item(url="http://127.0.0.1/pending", title="还没处理")
    item_of("http://127.0.0.1/a").decide(officer, "confirmed", reason="open_tutoring")
    item_of("http://127.0.0.1/b").decide(officer, "dismissed", reason="adult")
    item_of("http://127.0.0.1/c").decide(officer, "escalated", reason="tuoguan", new_case=True)

    rows, summary = exported(tmp_path)
    by_url = {row["url"]: row for row in rows}
    assert set(by_url) == {"http://127.0.0.1/a", "http://127.0.0.1/b", "http://127.0.0.1/c"}
    assert (by_url["http://127.0.0.1/a"]["label"], by_url["http://127.0.0.1/a"]["category"]) == (
        1, "open_tutoring")
    assert (by_url["http://127.0.0.1/b"]["label"], by_url["http://127.0.0.1/b"]["category"]) == (
        0, "adult")
    assert (by_url["http://127.0.0.1/c"]["label"], by_url["http://127.0.0.1/c"]["category"]) == (
        1, "tuoguan")
    assert by_url["http://127.0.0.1/a"]["text"].startswith("初中数学 周末小班\n周末上门辅导")
    assert by_url["http://127.0.0.1/a"]["source_type"] == "classified"  # the documented default
    assert {row["sample"] for row in rows} == {False}
    assert [row["decided_at"] for row in rows] == sorted(row["decided_at"] for row in rows)
    corpus = read_jsonl(tmp_path / "decisions.jsonl")
    assert [row["id"] for row in corpus] == [row["id"] for row in rows]
    assert "exported 3 decisions (2 violations, 1 dismissals)" in summary


def test_the_latest_decision_wins_and_a_reopened_item_is_not_an_example(officer, supervisor):
    make_item(url="http://127.0.0.1/flip", title="周末小班")
    make_item(url="http://127.0.0.1/reopened", title="暑期班")
    flip, reopened = item_of("http://127.0.0.1/flip"), item_of("http://127.0.0.1/reopened")
    first = flip.decide(officer, "confirmed", reason="open_tutoring")
    flip.reverse(supervisor, "dismissed", "只是成人课程", reason="adult", reverses=first.pk)
    made = reopened.decide(officer, "dismissed", reason="unrelated")
    reopened.reverse(supervisor, "pending", "再看看", reverses=made.pk)

    rows = list(examples())
    assert [(row["url"], row["label"], row["category"]) for row in rows] == [
        ("http://127.0.0.1/flip", 0, "adult")]


def test_duplicate_dismissals_and_merged_items_are_left_out(officer):
    make_item(url="http://127.0.0.1/copy", title="一对一辅导 数学")
    make_item(url="http://127.0.0.1/merged", title="一对一辅导 英语")
    item_of("http://127.0.0.1/copy").decide(officer, "dismissed", reason="duplicate")
    ReviewItem.objects.filter(ad__url="http://127.0.0.1/merged").update(
        status=ReviewItem.Status.MERGED)

    assert list(examples()) == []


def test_the_text_is_the_ads_as_it_read_when_decided(officer):
    make_item(url="http://127.0.0.1/edited", title="初三数学 中考冲刺", text="周六上午小班授课")
    item_of("http://127.0.0.1/edited").decide(officer, "confirmed", reason="open_tutoring")
    # The site later rewrote the ad to look harmless; the decision judged the first text.
    make_item(url="http://127.0.0.1/edited", title="亲子阅读分享", text="周末绘本共读",
              fetched_at="2026-11-20T10:00:00+08:00")
    assert item_of("http://127.0.0.1/edited").ad.title == "亲子阅读分享"

    [row] = list(examples())
    assert row["text"] == "初三数学 中考冲刺\n周六上午小班授课"


def test_empty_and_huge_texts_have_a_defined_outcome(officer):
    make_item(url="http://127.0.0.1/empty", title="", text="")
    make_item(url="http://127.0.0.1/huge", title="托管", text="作业辅导 讲题 " * 5000)
    for url in ("http://127.0.0.1/empty", "http://127.0.0.1/huge"):
        ReviewItem.objects.get(ad__url=url).decide(officer, "confirmed", reason="tuoguan")

    tally = Tally()
    [row] = list(examples(tally))
    assert row["url"] == "http://127.0.0.1/huge" and len(row["text"]) == MAX_CHARS
    assert tally.left_out == {"no text": 1} and tally.shortened == 1


def test_an_exploration_sample_is_marked_as_drawn(officer):
    make_item(url="http://127.0.0.1/drawn", title="周末读书会", score=0.12, label=0)
    ReviewItem.objects.create(ad=Ad.objects.get(url="http://127.0.0.1/drawn"), sample=True)
    item_of("http://127.0.0.1/drawn").decide(officer, "dismissed", reason="non_subject")

    [row] = list(examples())
    assert (row["sample"], row["label"]) == (True, 0)


def test_a_sources_configured_register_is_the_examples_source_type(officer):
    make_item(url="http://127.0.0.1/job", title="招聘 初中数学老师 周末")
    Source.objects.filter(name="test_site").update(config={"source_type": "job"})
    item_of("http://127.0.0.1/job").decide(officer, "confirmed", reason="recruitment")

    [row] = list(examples())
    assert row["source_type"] == "job"


def test_an_export_that_cannot_be_written_says_so_and_leaves_no_file(tmp_path, officer):
    with pytest.raises(CommandError, match="cannot write"):
        call_command("dataset", "export", "-o", str(tmp_path / "missing" / "out.jsonl"))
    assert not list(tmp_path.iterdir())
