"""Training: choose the threshold by cross-validation, check the rule on dev, fit the model
on train + dev, measure test, save.

The threshold is the highest score cut that keeps recall at or above ``THRESHOLD_RECALL``
(the target plus a margin) on out-of-fold scores: every train and dev example scored by a model
that did not see it, 5 folds. Tuned on the 540 dev examples alone (about 270 positives), the
cut's recall moves by more than a point from one sample to the next, so a cut tuned to exactly
0.95 there lands below 0.95 on new data about half the time; the out-of-fold scores give six
times as many positives to tune on.

The rule is checked on dev first: the same procedure run on train alone (folds of train, a
model fitted on train) is measured on dev, and that figure is what the sidecar reports for dev.
The final model is then fitted on train and dev together. The test split is only measured,
never used to choose anything.

Beside the model's figures, the sidecar gives the char-n-gram baseline's (``classifier.baseline``,
fitted on the same examples: train for dev, train + dev for test) and the keyword list's, and,
with ``loro=True`` (``tutorwatch train --loro``), the leave-one-register-out figures of
``classifier.loro``.
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import precision_recall_curve, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from classifier import baseline as char_baseline
from classifier.corpus import DATA_DIR, data_hash, load_split
from classifier.keywords import keyword_label
from classifier.model import (
    DEFAULT_MODEL_PATH,
    Classifier,
    build_category_model,
    build_pipeline,
)
from classifier.normalize import normalize

TARGET_RECALL = 0.95
# What the threshold is tuned to on out-of-fold scores: the target plus a margin for the
# difference between those scores and a model fitted on all of them.
THRESHOLD_RECALL = 0.96
FOLDS = 5


def choose_threshold(y_true: np.ndarray, scores: np.ndarray, target_recall: float) -> float:
    """The highest threshold whose recall is still >= target_recall (0.5 if none is)."""
    precision, recall, thresholds = precision_recall_curve(y_true, scores)
    ok = [t for r, t in zip(recall[:-1], thresholds, strict=True) if r >= target_recall]
    return float(max(ok)) if ok else 0.5


def metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average="binary", zero_division=0)
    return {"precision": round(float(p), 4), "recall": round(float(r), 4), "f1": round(float(f), 4),
            "n": int(len(y_true))}


def out_of_fold_threshold(texts: list[str], labels: np.ndarray, target_recall: float,
                          folds: int = FOLDS, build: Callable[[], Any] = build_pipeline) -> float:
    """The threshold :func:`choose_threshold` picks on out-of-fold scores of ``texts`` (of the
    pipeline ``build`` makes)."""
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    scores = cross_val_predict(build(), texts, labels, cv=splitter, method="predict_proba")
    return choose_threshold(labels, scores[:, 1], target_recall)


def _baselines(fitted_on: list[dict[str, Any]], measured: list[dict[str, Any]],
               ) -> dict[str, dict[str, float]]:
    """The char-n-gram baseline fitted on ``fitted_on`` and the keyword list, on ``measured``."""
    fitted = char_baseline.fit_baseline([r["text"] for r in fitted_on],
                                        [r["label"] for r in fitted_on])
    texts = [r["text"] for r in measured]
    gold = np.array([r["label"] for r in measured])
    return {"baseline": metrics(gold, np.array(char_baseline.baseline_labels(fitted, texts))),
            "keywords": metrics(gold, np.array([keyword_label(t) for t in texts]))}


def train(
    data_dir: Path = DATA_DIR,
    out_path: Path = DEFAULT_MODEL_PATH,
    progress: Callable[[str], Any] | None = None,
    loro: bool = False,
    trained_by: str = "",
) -> Classifier:
    step = progress or (lambda message: None)
    step("reading the corpus")
    train_rows, dev_rows, test_rows = (load_split(n, data_dir) for n in ("train", "dev", "test"))
    x_train = [normalize(r["text"]) for r in train_rows]
    y_train = np.array([r["label"] for r in train_rows])
    x_dev = [normalize(r["text"]) for r in dev_rows]
    y_dev = np.array([r["label"] for r in dev_rows])

    step("checking the threshold rule on dev (folds of train)")
    dev_threshold = out_of_fold_threshold(x_train, y_train, THRESHOLD_RECALL)
    dev_scores = build_pipeline().fit(x_train, y_train).predict_proba(x_dev)[:, 1]

    step("choosing the threshold (folds of train + dev)")
    x_all, y_all = x_train + x_dev, np.concatenate([y_train, y_dev])
    threshold = out_of_fold_threshold(x_all, y_all, THRESHOLD_RECALL)

    step("fitting the flag and category models on train + dev")
    model = Classifier(build_pipeline(), build_category_model(), threshold).fit(
        [r["text"] for r in train_rows + dev_rows], y_all,
        [r["category"] for r in train_rows + dev_rows],
    )

    step("measuring test, and the baselines on dev and test")
    test_scores = model.scores([r["text"] for r in test_rows])
    y_test = np.array([r["label"] for r in test_rows])
    baselines = {"dev": _baselines(train_rows, dev_rows),
                 "test": _baselines(train_rows + dev_rows, test_rows)}
    loro_figures = None
    if loro:
        from classifier.loro import leave_one_register_out

        step("leaving one register out at a time")
        loro_figures = leave_one_register_out(train_rows + dev_rows)
    files = [data_dir / f"{n}.jsonl" for n in ("train", "dev")]
    digest = data_hash(files)
    trained_at = datetime.now(UTC)
    # To the second: every trained model is a version of its own in the store.
    version = f"tutorwatch-{trained_at:%Y%m%d%H%M%S}-{digest[:8]}"
    import jieba
    import sklearn
    import skops

    metadata = {
        "trained_at": trained_at.isoformat(timespec="seconds"),
        **({"trained_by": trained_by} if trained_by else {}),
        "data_sha256": digest,
        "examples": {"train": len(train_rows), "dev": len(dev_rows), "test": len(test_rows)},
        "metrics": {
            # dev: a model fitted on train alone, with the threshold its own rule chose on folds
            # of train; test: the saved model (fitted on train + dev) at the saved threshold.
            "dev": {**metrics(y_dev, (dev_scores >= dev_threshold).astype(int)),
                    "threshold": round(dev_threshold, 6)},
            "test": metrics(y_test, (test_scores >= threshold).astype(int)),
        },
        # The same splits for the char-n-gram baseline (fitted as the model was for each) and
        # the keyword list.
        "baseline_metrics": {split: figures["baseline"] for split, figures in baselines.items()},
        "keyword_metrics": {split: figures["keywords"] for split, figures in baselines.items()},
        "fitted_on": ["train", "dev"],
        "target_recall": TARGET_RECALL,
        "threshold_recall": THRESHOLD_RECALL,
        "threshold_rule": f"highest cut with recall >= {THRESHOLD_RECALL} on {FOLDS}-fold "
                          "out-of-fold scores of train + dev",
        "libraries": {
            "python": platform.python_version(), "scikit-learn": sklearn.__version__,
            "jieba": jieba.__version__, "skops": skops.__version__, "numpy": np.__version__,
        },
    }
    if loro_figures is not None:
        metadata["leave_one_register_out"] = loro_figures
    model.set_params(version=version, metadata=metadata)
    step(f"saving {out_path}")
    model.save(out_path, metadata)
    return model
