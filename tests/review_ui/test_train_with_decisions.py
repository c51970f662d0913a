"""``tutorwatch train --with-decisions``: a candidate from a small corpus and decisions in a real
store, compared with the current model; the most recent decisions held out; bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from classifier import load_model
from classifier.corpus import load_split
from review_ui.models import ReviewItem
from tests.review_ui.conftest import make_item

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for split, size in (("train", 160), ("dev", 40), ("test", 40)):
        rows = load_split(split)
        rows = rows[:: max(1, len(rows) // size)]
        (folder / f"{split}.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return folder


def decide_ads(officer, count: int) -> list[ReviewItem]:
    """``count`` decided items, half each way, decided at times out of pk order."""
    items = []
    for i in range(count):
        url = f"http://127.0.0.1/learn/{i}"
        make_item(url=url, title="剧本杀 数学机关 八年级" if i % 2 == 0 else "剧本杀 恐怖本 成人")
        item = ReviewItem.objects.get(ad__url=url)
        item.decide(officer, "confirmed" if i % 2 == 0 else "dismissed",
                    reason="consulting_rebrand" if i % 2 == 0 else "adult")
        # The first item made is decided last, and so on: time order is the reverse of pk order.
        ReviewItem.objects.filter(pk=item.pk).update(decided_at=T0 - timedelta(minutes=i))
        items.append(item)
    return items


def train(*args: str, corpus: Path, real_world: Path) -> str:
    out = StringIO()
    call_command("train", "--with-decisions", "--data", str(corpus), "--real-world",
                 str(real_world), *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def real_world_file(tmp_path: Path) -> Path:
    path = tmp_path / "real.jsonl"
    rows = load_split("test")[::60]
    path.write_text("".join(json.dumps({"text": r["text"], "label": r["label"]},
                                       ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_a_candidate_is_written_beside_the_current_model_with_both_figures(
    small_corpus, tmp_path, officer, supervisor, settings
):
    from review_ui.models import Decision

    settings.DATA_DIR = tmp_path / "data"
    items = decide_ads(officer, 10)
    # A supervisor reverses item 2's confirmation: the dismissal is what counts.
    first = Decision.objects.filter(item=items[2]).latest("pk")
    ReviewItem.objects.get(pk=items[2].pk).reverse(supervisor, "dismissed", "不是",
                                                    reason="adult", reverses=first.pk)
    ReviewItem.objects.filter(pk=items[2].pk).update(decided_at=T0 - timedelta(minutes=2))

    report = train(corpus=small_corpus, real_world=real_world_file(tmp_path))

    (candidate,) = (settings.DATA_DIR / "models").glob("candidate-*.skops")
    sidecar = json.loads(candidate.with_suffix(".json").read_text())
    assert sidecar["candidate"] is True
    counts = sidecar["decisions"]
    assert (counts["total"], counts["used"], counts["held_out"]) == (10, 8, 2)
    # items 0 and 1 were decided last (T0, T0 - 1 min): they are the check.
    assert counts["held_out_from"] == (T0 - timedelta(minutes=1)).isoformat()
    assert counts["used_violations"] == 3  # items 4, 6, 8: item 2's reversal stands
    assert counts["source"] == "store" and counts["weight"] > 0
    for data in ("test", "held_out_decisions", "real_world"):
        for who in ("candidate", "current"):
            assert {"precision", "recall", "f1", "n"} <= set(sidecar["compared"][data][who])
    assert sidecar["compared"]["held_out_decisions"]["candidate"]["n"] == 2
    assert sidecar["compared"]["test"]["current"]["n"] == len(load_split("test", small_corpus))
    assert "too few decisions" in sidecar["threshold_rule"]
    assert sidecar["current_model"]["version"] == load_model().version
    assert "wrote candidate" in report and "the current model is unchanged" in report
    assert load_model(candidate).version == sidecar["version"]
    # Every trained model is a version: registered with who trained it (the OS user, as none
    # was named) and its figures beside the current model's on the same data.
    from review_ui.model_registry import os_user
    from review_ui.models import ModelVersion

    version = ModelVersion.objects.get(version=sidecar["version"])
    assert f"registered model version {version.version}" in report
    assert version.path == str(candidate.resolve()) and not version.is_current
    assert version.trained_by is None and version.trained_by_name == os_user()
    assert sidecar["trained_by"] == os_user()
    assert version.compared["against"] == load_model().version
    assert version.compared["figures"]["held_out_decisions"] == sidecar["compared"][
        "held_out_decisions"]
    assert version.metrics["held_out_decisions"]["n"] == 2


def test_decisions_can_come_from_an_exported_file(small_corpus, tmp_path, officer):
    decide_ads(officer, 5)
    exported = tmp_path / "pooled.jsonl"
    call_command("dataset", "export", "-o", str(exported), stderr=StringIO())
    make_item(url="http://127.0.0.1/later", title="剧本杀 数学机关")  # in the store, not the file
    ReviewItem.objects.get(ad__url="http://127.0.0.1/later").decide(
        officer, "confirmed", reason="consulting_rebrand")
    out = tmp_path / "c.skops"
    train("--decisions", str(exported), "--out", str(out), "--weight", "10",
          "--trained-by", "officer1", corpus=small_corpus, real_world=real_world_file(tmp_path))
    counts = json.loads(out.with_suffix(".json").read_text())["decisions"]
    from review_ui.models import ModelVersion

    assert ModelVersion.objects.get(path=str(out.resolve())).trained_by == officer
    assert (counts["used"], counts["held_out"], counts["weight"]) == (4, 1, 10.0)
    assert counts["source"] == str(exported)


def test_no_decisions_is_a_clear_error_and_no_file(small_corpus, tmp_path, settings):
    settings.DATA_DIR = tmp_path / "data"
    with pytest.raises(CommandError, match="no decisions to train on"):
        train(corpus=small_corpus, real_world=real_world_file(tmp_path))
    assert not (settings.DATA_DIR / "models").exists()


def test_a_bad_line_in_a_decisions_file_is_named_and_no_file(small_corpus, tmp_path):
    path = tmp_path / "pooled.jsonl"
    good = {"id": "d1", "text": "初中数学", "label": 1, "category": "open_tutoring",
            "source_type": "classified", "decided_at": T0.isoformat(), "sample": False}
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "label": 7}) + "\n")
    out = tmp_path / "c.skops"
    with pytest.raises(CommandError, match=r"pooled.jsonl:2: label must be 0 or 1"):
        train("--decisions", str(path), "--out", str(out), corpus=small_corpus,
              real_world=real_world_file(tmp_path))
    assert list(tmp_path.glob("c.*")) == []
