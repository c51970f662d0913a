from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from classifier import DEFAULT_MODEL_PATH, ModelLoadError, load_model
from classifier.corpus import load_split
from classifier.model import TRUSTED_TYPES, Classifier, build_pipeline
from classifier.normalize import normalize
from classifier.tokenize import jieba_tokens


@pytest.fixture(scope="module")
def model():
    return load_model()


def test_the_shipped_model_holds_only_trusted_types():
    untrusted = sio.get_untrusted_types(file=DEFAULT_MODEL_PATH)
    assert set(untrusted) <= set(TRUSTED_TYPES), sorted(set(untrusted) - set(TRUSTED_TYPES))


def test_the_sidecar_records_versions_data_hash_and_metrics():
    sidecar = json.loads(DEFAULT_MODEL_PATH.with_suffix(".json").read_text())
    assert {"scikit-learn", "jieba", "skops"} <= set(sidecar["libraries"])
    assert len(sidecar["data_sha256"]) == 64
    assert {"dev", "test"} <= set(sidecar["metrics"])


def test_a_model_with_an_untrusted_type_is_refused_naming_it(tmp_path: Path):
    path = tmp_path / "evil.skops"
    sio.dump({"pipeline": normalize}, path)
    path.with_suffix(".json").write_text(json.dumps({"threshold": 0.5, "version": "x"}))
    with pytest.raises(ModelLoadError, match="classifier.normalize.normalize"):
        load_model(path)


def _vocabularies(classifier) -> dict[str, dict[str, int]]:
    return {name: dict(step.vocabulary_)
            for name, step in classifier.pipeline.named_steps["features"].transformer_list
            if name in ("word", "char")}


def test_a_saved_model_loads_back_with_the_same_vocabularies_and_scores(model, tmp_path: Path):
    texts = [ex["text"] for ex in load_split("dev")[:60]]
    path = tmp_path / "copy.skops"
    before = _vocabularies(model)
    model.save(path, model.metadata)
    assert _vocabularies(model) == before  # saving leaves the model in memory whole
    copy = load_model(path)
    assert _vocabularies(copy) == before
    assert [(v.score, v.category) for v in copy.classify(texts)] == \
        [(v.score, v.category) for v in model.classify(texts)]
    # Stored as arrays, the vocabularies are no longer entries of the file's JSON schema.
    with zipfile.ZipFile(path) as archive:
        assert len(archive.read("schema.json")) < 1_000_000


def test_a_model_saved_with_vocabularies_as_dicts_still_loads(model, tmp_path: Path):
    path = tmp_path / "older.skops"
    sio.dump({"pipeline": model.pipeline, "category": model.category_model}, path)
    path.with_suffix(".json").write_text(json.dumps(model.metadata))
    older = load_model(path)
    assert _vocabularies(older) == _vocabularies(model)
    text = "初中数学一对一辅导，周末上门"
    assert older.classify([text])[0].score == model.classify([text])[0].score


def test_a_missing_model_file_is_a_clear_error(tmp_path: Path):
    with pytest.raises(ModelLoadError, match="not found"):
        load_model(tmp_path / "missing.skops")


def test_a_file_that_is_not_a_model_is_a_clear_error(tmp_path: Path):
    path = tmp_path / "junk.skops"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ModelLoadError):
        load_model(path)


@pytest.mark.parametrize(
    "text",
    ["", "   \n\t ", "补" * 1_000_000, "\x00\x01\x02\ufffd" * 100, "Lorem ipsum dolor sit amet",
     "😀😀😀", "<script>alert(1)</script>"],
)
def test_any_text_gets_a_score_without_crashing(model, text):
    verdict = model.classify([text])[0]
    assert 0.0 <= verdict.score <= 1.0
    assert verdict.label in (0, 1)
    assert isinstance(verdict.evidence, list)


def test_evidence_spans_are_exact_characters_of_the_text(model):
    text = "暑假初中数学物理一对一辅导，名师上门，保证提分，加微信 abc123"
    verdict = model.classify([text])[0]
    assert verdict.label == 1 and verdict.evidence
    for span in verdict.evidence:
        assert text[span["start"]:span["end"]] == span["text"]
        assert span["weight"] > 0
    weights = [span["weight"] for span in verdict.evidence]
    assert weights == sorted(weights, reverse=True)
    assert verdict.category in {"open_tutoring", "online", "crowdfunded", "inservice_teacher"}


def test_evidence_of_an_evasive_ad_lands_on_the_disguised_characters(model):
    text = "周末 補 習 班，初二 s x 一 对 一，捕习请加 V信：mama2019"
    verdict = model.classify([text])[0]
    assert verdict.label == 1
    shown = " ".join(span["text"] for span in verdict.evidence)
    assert any(disguised in shown for disguised in ("補 習", "s x", "捕习", "一 对 一"))
    for span in verdict.evidence:
        assert text[span["start"]:span["end"]] == span["text"]


def test_it_ranks_the_held_out_test_split_better_than_chance(model):
    rows = load_split("test")
    scores = model.scores([r["text"] for r in rows])
    labels = np.array([r["label"] for r in rows])
    # Mean score of positives above that of negatives by a wide margin.
    assert scores[labels == 1].mean() - scores[labels == 0].mean() > 0.4


def test_tokens_use_the_domain_dictionary():
    assert "住家教师" in jieba_tokens("招聘住家教师一名")
    assert "幼小衔接" in jieba_tokens("幼小衔接班招生")


def test_the_fast_segmenter_cuts_exactly_as_jieba_without_hmm():
    import random

    from classifier.tokenize import cut_exact, tokenizer

    texts = [r["text"] for split in ("train", "dev", "test") for r in load_split(split)]
    texts += [normalize(t) for t in texts]
    rnd = random.Random(7)
    alphabet = "补习数学英语初三班abcXYZ019 +#&._%-\r\n\t，。！ＡＢ１２①㈠😀"
    texts += ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 40))) for _ in range(2000)]
    jieba_cut = tokenizer()
    assert [t for t in texts if cut_exact(t) != jieba_cut.lcut(t, HMM=False)] == []


def test_verdicts_carry_scikit_learns_own_probabilities(model):
    texts = [r["text"] for r in load_split("test")][:200] + ["", "   ", "x" * 5000]
    normed = [normalize(t) for t in texts]
    features = model.pipeline.named_steps["features"].transform(normed)
    flag = model.pipeline.predict_proba(normed)[:, 1]
    assert [v.score for v in model.classify(texts)] == [float(round(p, 6)) for p in flag]
    assert np.array_equal(model.scores(texts), flag)
    assert np.array_equal(model.predict_proba(texts), model.pipeline.predict_proba(normed))
    categories = model.category_model.predict_proba(features)
    assert [v.category for v in model.classify(texts)] == [
        model._category(row, bool(p >= model.threshold)) for row, p in zip(categories, flag,
                                                                           strict=True)]
    one_at_a_time = [model.classify([t])[0].as_dict() for t in texts[:20]]
    assert one_at_a_time == [v.as_dict() for v in model.classify(texts[:20])]


def test_a_loaded_model_keeps_the_category_weights_ready_for_sparse_products(model):
    # SciPy multiplies sparse features by LogisticRegression's coef_.T; when that is not
    # C-contiguous it copies all 18 x 50,000 weights first, about 1 ms per call (a crawl scores
    # one ad per call whenever its worker keeps up).
    assert model.category_model.coef_.T.flags.c_contiguous


def _small_corpus(offset: int = 0) -> tuple[list[str], list[int], list[str]]:
    rows = load_split("train")[offset::50]
    return [r["text"] for r in rows], [r["label"] for r in rows], [r["category"] for r in rows]


def _small_classifier() -> Classifier:
    return Classifier(build_pipeline(), LogisticRegression(max_iter=300), threshold=0.4,
                      version="small")


@contextmanager
def _one_thread() -> Iterator[None]:
    # Fits of 50 ads gain nothing from BLAS threads, which only spin against the other
    # processes sharing the machine's cores (a fit took 28 s instead of 4 that way).
    with threadpool_limits(limits=1):
        yield


def test_the_classifier_follows_the_scikit_learn_estimator_contract():
    from sklearn.base import clone
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    texts, labels, categories = _small_corpus()
    classifier = _small_classifier()
    params = classifier.get_params(deep=False)
    assert set(params) == {"pipeline", "category_model", "threshold", "version", "metadata"}
    assert params["pipeline"] is classifier.pipeline and params["metadata"] is None
    with pytest.raises(NotFittedError):
        check_is_fitted(classifier)
    with pytest.raises(ValueError, match="categories"):
        classifier.fit(texts, labels)
    with _one_thread():
        assert classifier.fit(texts, labels, categories) is classifier
    check_is_fitted(classifier)
    assert list(classifier.classes_) == [0, 1]
    probabilities = classifier.predict_proba(texts[:7])
    assert probabilities.shape == (7, 2)
    assert np.allclose(probabilities.sum(axis=1), 1)
    assert np.array_equal(classifier.scores(texts[:7]), probabilities[:, 1])
    assert list(classifier.predict(texts[:7])) == [v.label for v in classifier.classify(texts[:7])]
    copy = clone(classifier)
    assert copy.get_params(deep=False)["threshold"] == 0.4
    with pytest.raises(NotFittedError):
        check_is_fitted(copy)


def test_a_refitted_classifier_gives_the_verdicts_of_its_new_fit():
    classifier = _small_classifier()

    def fit_estimators(offset: int) -> None:
        # As a retraining script might: refit the estimators the classifier holds.
        texts, labels, categories = _small_corpus(offset)
        normed = [normalize(t) for t in texts]
        with _one_thread():
            classifier.pipeline.fit(normed, labels)
            classifier.category_model.fit(
                classifier.pipeline.named_steps["features"].transform(normed), categories)

    probe = ["暑假初中数学物理一对一辅导，名师上门，保证提分，加微信 abc123", "出售二手冰箱"]
    fit_estimators(0)
    before = [v.as_dict() for v in classifier.classify(probe)]
    fit_estimators(25)
    after = [v.as_dict() for v in classifier.classify(probe)]
    fresh = Classifier(classifier.pipeline, classifier.category_model, 0.4, "small")
    assert after == [v.as_dict() for v in fresh.classify(probe)]
    assert after != before


def test_evidence_can_come_from_a_structured_field():
    from classifier.model import feature_names

    classifier = _small_classifier()
    texts, labels, categories = _small_corpus()
    with _one_thread():
        classifier.fit(texts, labels, categories)
    names = feature_names(classifier.pipeline.named_steps["features"])
    assert "fields:role=sales_or_class_staff" in names
    assert len(names) == classifier.pipeline.named_steps["features"].transform(["x"]).shape[1]
    text = "课程顾问｜思睿教育（培训机构-学科辅导）为初二学员匹配数学一对一课程"
    # Weigh the fields alone, so the evidence can only be theirs.
    explainer = classifier._explainer()
    explainer.coef[:] = [1.0 if name.startswith("fields:") else 0.0 for name in names]
    spans = classifier.classify([text])[0].evidence
    assert spans
    for span in spans:
        assert text[span["start"]:span["end"]] == span["text"]
    assert any("课程顾问" in span["text"] or "培训机构" in span["text"] for span in spans)
