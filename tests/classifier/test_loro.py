"""The char-n-gram baseline and leave-one-register-out evaluation on a small corpus."""

from __future__ import annotations

import json

import pytest

from classifier import baseline
from classifier.corpus import load_split
from classifier.evaluate import prf
from classifier.keywords import keyword_label
from classifier.loro import format_loro, leave_one_register_out, parse_register, registers


def small_corpus() -> list[dict]:
    """About 60 train + dev examples from each of three source types, a few with a layout."""
    rows = []
    for source_type in ("job", "chat", "classified"):
        members = [r for r in load_split("train") + load_split("dev")
                   if r["source_type"] == source_type]
        rows += members[::max(1, len(members) // 60)][:60]
    for row in rows[:20]:
        row["layout"] = "card_a" if row["label"] else "card_b"
    rows[20]["layout"] = "rare_card"  # too few to be a register of its own
    return rows


def test_registers_are_each_source_type_and_each_layout_present():
    rows = small_corpus()
    found = registers(rows)
    assert ("source_type", "job") in found and ("source_type", "chat") in found
    assert ("layout", "card_a") in found and ("layout", "card_b") in found
    assert len(found) == 5 and ("layout", "rare_card") not in found
    assert ("layout", "rare_card") in registers(rows, min_layout=1)
    assert parse_register("layout=boss_card") == ("layout", "boss_card")
    with pytest.raises(ValueError, match="source_type=VALUE"):
        parse_register("job")


def test_the_baseline_flags_at_one_half_of_its_own_probability():
    rows = small_corpus()
    fitted = baseline.fit_baseline([r["text"] for r in rows], [r["label"] for r in rows])
    texts = ["初二数学一对一辅导，周末上门，提分快", "出售二手冰箱九成新"]
    probabilities = fitted.predict_proba(texts)[:, 1]
    assert baseline.baseline_labels(fitted, texts) == [int(p >= 0.5) for p in probabilities]
    assert baseline.baseline_labels(fitted, texts) == [1, 0]


@pytest.mark.slow
def test_leaving_a_register_out_fits_without_it_and_measures_it():
    rows = small_corpus()
    only = [("source_type", "chat"), ("layout", "card_a")]
    steps: list[str] = []
    result = leave_one_register_out(rows, only, folds=3, progress=steps.append)
    assert list(result) == ["source_type=chat", "layout=card_a"]
    for (key, value), figures in zip(only, result.values(), strict=True):
        held = [r for r in rows if r.get(key) == value]
        assert figures["n"] == len(held)
        assert figures["fitted_on"] == len(rows) - len(held)
        assert figures["positives"] == sum(r["label"] for r in held)
        assert figures["keywords"] == prf([r["label"] for r in held],
                                          [keyword_label(r["text"]) for r in held])
        for system in ("model", "baseline"):
            assert figures[system]["n"] == len(held)
            assert 0.0 <= figures[system]["f1"] <= 1.0
    # layout=card_a holds positives only: a flag for each is recall, and the figures show it
    assert result["layout=card_a"]["model"]["recall"] > 0.5
    assert "source_type=chat" in format_loro(result)
    assert json.loads(json.dumps(result)) == result


def test_a_register_leaving_one_class_to_fit_on_is_skipped_with_the_reason():
    rows = [r for r in small_corpus() if r["source_type"] == "chat"]
    steps: list[str] = []
    assert leave_one_register_out(rows, [("source_type", "chat")], progress=steps.append) == {}
    assert "skipped" in steps[0]
