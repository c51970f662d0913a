"""Training with decisions, the parts without a store: reading decisions, the split by time,
weights by how ads were drawn, and writing nothing on a failure."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from classifier import load_model
from classifier.learn import (
    DecisionsError,
    draw_weights,
    read_decisions,
    save_atomically,
    split_by_time,
    train_with_decisions,
    weighted_threshold,
)
from classifier.model import Classifier, build_pipeline

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def decision(i: int, minutes: int, label: int = 1, sample: bool = False) -> dict:
    return {"id": f"decision-{i}", "text": f"初中数学 周末小班 {i}" if label else f"二手冰箱 {i}",
            "label": label, "category": "open_tutoring" if label else "unrelated",
            "source_type": "classified", "hard": False, "note": "",
            "decided_at": (T0 + timedelta(minutes=minutes)).isoformat(), "sample": sample}


def write(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False))
                            + "\n" for r in rows), encoding="utf-8")
    return path


def test_the_most_recent_fifth_by_time_is_held_out_whatever_the_file_order(tmp_path: Path):
    # File order is not time order: the held-out ones are the latest decided.
    minutes = [5, 90, 1, 30, 60, 2, 45, 80, 10, 20]
    rows = read_decisions(write(tmp_path / "d.jsonl",
                                [decision(i, m) for i, m in enumerate(minutes)]))
    fitted, held = split_by_time(rows)
    assert [r["id"] for r in held] == ["decision-7", "decision-1"]  # 80 and 90 minutes
    assert len(fitted) == 8
    assert max(r["decided_at"] for r in fitted) < min(r["decided_at"] for r in held)


@pytest.mark.parametrize(("line", "message"), [
    ("{not json", "d.jsonl:2: not JSON"),
    (json.dumps({**decision(9, 1), "label": 3}), "d.jsonl:2: label must be 0 or 1"),
    (json.dumps({**decision(9, 1), "decided_at": "yesterday"}), "d.jsonl:2: decided_at"),
    (json.dumps({**decision(9, 1), "decided_at": "2026-12-01T09:00:00"}), "d.jsonl:2: .*zone"),
    (json.dumps({**decision(9, 1), "text": "  "}), "d.jsonl:2: empty text"),
    (json.dumps({**decision(9, 1), "sample": "yes"}), "d.jsonl:2: sample"),
])
def test_a_bad_line_of_a_decisions_file_is_named(tmp_path: Path, line: str, message: str):
    path = write(tmp_path / "d.jsonl", [decision(1, 0), line, decision(2, 5)])
    with pytest.raises(DecisionsError, match=message):
        read_decisions(path)


def test_no_decisions_is_a_clear_error_and_writes_nothing(tmp_path: Path):
    out = tmp_path / "models" / "candidate.skops"
    current = Classifier(build_pipeline(), None, 0.5)
    for decisions, message in (([], "no decisions to train on"),
                               ([decision(1, 0)], "only 1 decision")):
        with pytest.raises(DecisionsError, match=message):
            train_with_decisions(decisions, current, out)
    assert not out.parent.exists()


def test_a_sample_stands_for_the_unflagged_ads_it_was_drawn_from():
    rows = [{"sample": False}, {"sample": True}]
    assert draw_weights(rows, 0.05).tolist() == [1.0, 20.0]
    # The rate the store recorded when the sample was drawn wins over today's setting.
    assert draw_weights([{"sample": True, "sample_rate": 0.1}], 0.05).tolist() == [10.0]
    # Two flagged violations scoring high, one sampled violation scoring low: counted once, the
    # cut keeping 0.9 recall stays above it; standing for 20 ads, it pulls the cut down to it.
    y = np.array([1, 1, 1, 0, 0])
    scores = np.array([0.9, 0.8, 0.2, 0.1, 0.5])
    assert weighted_threshold(y, scores, np.array([1, 1, 1, 1, 1.0]), 0.6) == pytest.approx(0.8)
    assert weighted_threshold(y, scores, np.array([1, 1, 20, 1, 1.0]), 0.6) == pytest.approx(0.2)


def test_a_failed_save_leaves_no_file_behind(tmp_path: Path):
    out = tmp_path / "candidate.skops"
    unfitted = Classifier(build_pipeline(), None, 0.5)  # has no vocabulary to save
    with pytest.raises(Exception):  # noqa: B017 - whatever the save raises, nothing is left
        save_atomically(unfitted, out, {})
    assert list(tmp_path.iterdir()) == []


def test_classify_refuses_a_model_file_with_an_untrusted_type(tutorwatch, tmp_path: Path):
    import skops.io as sio

    path = tmp_path / "evil.skops"
    sio.dump({"pipeline": split_by_time}, path)
    path.with_suffix(".json").write_text(json.dumps({"threshold": 0.5, "version": "x"}))
    source = write(tmp_path / "in.jsonl", [{"id": 1, "text": "初中数学"}])
    done = tutorwatch("classify", str(source), "-o", str(tmp_path / "out.jsonl"),
                      "--model", str(path), check=False)
    assert done.returncode == 1
    assert b"untrusted type(s): classifier.learn.split_by_time" in done.stderr
    assert not (tmp_path / "out.jsonl").exists()
    with pytest.raises(Exception, match="untrusted"):
        load_model(path)
