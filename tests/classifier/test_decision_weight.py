"""How much a decision weighs in ``train --with-decisions`` when no weight is given: a few
decisions of a new form together weigh a share of the corpus, many weigh a floor each; a given
weight is used as it is, and the sidecar records the weight fitted with."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from classifier import load_model
from classifier.corpus import load_split
from classifier.learn import (
    DECISION_SHARE,
    MIN_WEIGHT,
    decision_weight,
    train_with_decisions,
)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_few_decisions_weigh_a_share_of_the_corpus_together():
    for decisions in (8, 16, 32):
        together = decision_weight(3700, decisions) * decisions
        assert together == pytest.approx(DECISION_SHARE * 3700)
        assert decision_weight(3700, decisions) > MIN_WEIGHT


def test_many_decisions_weigh_the_floor_each_and_the_weight_never_rises_with_their_number():
    assert decision_weight(3700, 5000) == MIN_WEIGHT
    weights = [decision_weight(3700, n) for n in range(1, 2000, 7)]
    assert weights == sorted(weights, reverse=True)
    assert min(weights) == MIN_WEIGHT
    assert decision_weight(3700, 0) == DECISION_SHARE * 3700  # no division by zero


def decisions(count: int) -> list[dict]:
    rows = []
    for i in range(count):
        label = i % 2
        rows.append({
            "id": f"d-{i}", "label": label, "source_type": "classified", "hard": False,
            "note": "", "sample": False, "sample_rate": None,
            "text": f"错题整理师到家 逐题讲透 单元卷 {i}" if label else f"收纳整理师到家 衣橱 {i}",
            "category": "housekeeping" if label else "unrelated",
            "decided_at": T0 + timedelta(minutes=i)})
    return rows


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for split, size in (("train", 120), ("dev", 30), ("test", 30)):
        rows = load_split(split)
        rows = rows[:: max(1, len(rows) // size)]
        (folder / f"{split}.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return folder


@pytest.mark.slow
def test_without_a_weight_the_decisions_are_fitted_at_decision_weight_and_the_sidecar_says_so(
    small_corpus: Path, tmp_path: Path
):
    current = load_model()
    corpus = sum(len(load_split(s, small_corpus)) for s in ("train", "dev"))
    model = train_with_decisions(decisions(10), current, tmp_path / "c.skops",
                                 data_dir=small_corpus, real_world=None)
    recorded = json.loads((tmp_path / "c.json").read_text())["decisions"]
    assert recorded["used"] == 8
    assert recorded["weight"] == pytest.approx(decision_weight(corpus, 8))
    assert model.metadata["decisions"]["weight"] == recorded["weight"]
