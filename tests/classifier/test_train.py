import json
from pathlib import Path

import pytest

from classifier import load_model
from classifier.corpus import CorpusError, check_example, load_split, split_examples
from classifier.model import TRUSTED_TYPES
from classifier.train import choose_threshold, train


@pytest.mark.slow
def test_training_on_a_small_corpus_writes_a_loadable_model(tmp_path: Path):
    for split, size in (("train", 300), ("dev", 80), ("test", 80)):
        rows = load_split(split)[:: max(1, len(load_split(split)) // size)]
        with open(tmp_path / f"{split}.jsonl", "w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    out = tmp_path / "model.skops"
    steps: list[str] = []
    trained = train(tmp_path, out, progress=steps.append)
    assert steps and out.exists()
    assert set(json.loads(out.with_suffix(".trusted.json").read_text())) == set(TRUSTED_TYPES)
    loaded = load_model(out)
    texts = ["初三数学一对一辅导 周末上门", "出售二手冰箱"]
    assert [v.score for v in loaded.classify(texts)] == [v.score for v in trained.classify(texts)]


def test_the_threshold_keeps_the_target_recall():
    import numpy as np

    y = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    s = np.array([0.9, 0.8, 0.7, 0.3, 0.6, 0.2, 0.1, 0.05])
    assert choose_threshold(y, s, 0.75) == pytest.approx(0.7)
    assert choose_threshold(y, s, 1.0) == pytest.approx(0.3)


def test_the_split_is_stratified_and_stable():
    rows = [
        {"id": f"x{i}", "text": "t", "label": i % 2, "hard": False, "note": "",
         "category": "open_tutoring" if i % 2 else "unrelated", "source_type": "forum"}
        for i in range(200)
    ]
    first, second = split_examples(rows), split_examples(list(reversed(rows)))
    assert first == second
    assert {len(first[s]) for s in ("dev", "test")} == {30}
    for split in first.values():
        labels = [r["label"] for r in split]
        assert abs(labels.count(1) - labels.count(0)) <= 1


def test_the_corpus_files_follow_the_labeling_guide():
    ids = set()
    for split in ("train", "dev", "test"):
        for row in load_split(split):
            assert row["id"] not in ids
            ids.add(row["id"])
    assert len(ids) >= 600


@pytest.mark.parametrize(
    "row",
    [
        {"id": "a", "text": "x", "label": 2, "category": "adult", "source_type": "forum"},
        {"id": "a", "text": "x", "label": 1, "category": "adult", "source_type": "forum"},
        {"id": "a", "text": "x", "label": 0, "category": "adult", "source_type": "tv"},
        {"id": "a", "text": " ", "label": 0, "category": "adult", "source_type": "forum"},
        {"id": "a", "label": 0, "category": "adult", "source_type": "forum"},
    ],
)
def test_a_bad_example_is_refused(row):
    with pytest.raises(CorpusError):
        check_example(row, "here")


def test_a_new_batch_is_split_by_the_same_rule_and_the_old_examples_stay_put(tmp_path: Path):
    from classifier.corpus import SPLITS, add_to_splits, write_splits

    old = [  # keys in the order of the corpus files
        {"id": f"old{i}", "text": "t", "label": i % 2,
         "category": "open_tutoring" if i % 2 else "unrelated", "source_type": "forum",
         "hard": False, "note": ""}
        for i in range(100)
    ]
    write_splits(old, tmp_path)
    before = {name: (tmp_path / f"{name}.jsonl").read_text() for name in SPLITS}
    new = [
        {"id": f"new{i}", "text": "短信", "label": i % 2, "hard": False, "note": "",
         "category": "tuoguan" if i % 2 else "inquiry", "source_type": "sms", "layout": "sms_short"}
        for i in range(40)
    ]
    added = add_to_splits(new, tmp_path)
    assert added == {name: len(members) for name, members in split_examples(new).items()}
    for name in SPLITS:
        rows = load_split(name, tmp_path)
        old_ids = {r["id"] for r in rows if r["id"].startswith("old")}
        assert old_ids == {json.loads(line)["id"] for line in before[name].splitlines()}
        # the old rows are written back byte for byte
        assert set(before[name].splitlines()) <= set(
            (tmp_path / f"{name}.jsonl").read_text().splitlines())
    assert {r["layout"] for r in load_split("test", tmp_path) if r["id"].startswith("new")} == {
        "sms_short"}
    with pytest.raises(CorpusError, match="already in the corpus"):
        add_to_splits(new[:1], tmp_path)


def test_a_layout_must_be_a_name():
    row = {"id": "a", "text": "x", "label": 0, "category": "adult", "source_type": "sms"}
    assert "layout" not in check_example(row, "here")
    assert check_example({**row, "layout": "sms_short"}, "here")["layout"] == "sms_short"
    with pytest.raises(CorpusError, match="layout"):
        check_example({**row, "layout": ""}, "here")
