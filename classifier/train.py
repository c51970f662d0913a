"""Training: fit on the train split, pick the threshold on dev, measure dev and test, save.

The threshold is the highest score cut that keeps recall on dev at or above
``TARGET_RECALL``; the test split is only measured, never used to choose anything.
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import precision_recall_curve, precision_recall_fscore_support

from classifier.corpus import DATA_DIR, data_hash, load_split
from classifier.model import (
    DEFAULT_MODEL_PATH, Classifier, build_category_model, build_pipeline,
)
from classifier.normalize import normalize

TARGET_RECALL = 0.95


def choose_threshold(y_true: np.ndarray, scores: np.ndarray, target_recall: float) -> float:
    """The highest threshold whose recall is still >= target_recall (0.5 if none is)."""
    precision, recall, thresholds = precision_recall_curve(y_true, scores)
    ok = [t for r, t in zip(recall[:-1], thresholds, strict=True) if r >= target_recall]
    return float(max(ok)) if ok else 0.5


def metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average="binary", zero_division=0)
    return {"precision": round(float(p), 4), "recall": round(float(r), 4), "f1": round(float(f), 4),
            "n": int(len(y_true))}


def train(
    data_dir: Path = DATA_DIR,
    out_path: Path = DEFAULT_MODEL_PATH,
    progress: Callable[[str], Any] | None = None,
) -> Classifier:
    step = progress or (lambda message: None)
    step("reading the corpus")
    train_rows, dev_rows, test_rows = (load_split(n, data_dir) for n in ("train", "dev", "test"))
    x_train = [normalize(r["text"]) for r in train_rows]
    y_train = np.array([r["label"] for r in train_rows])

    step("fitting features and the flag model")
    pipeline = build_pipeline().fit(x_train, y_train)
    step("fitting the category model")
    features = pipeline.named_steps["features"]
    category_model = build_category_model().fit(
        features.transform(x_train), [r["category"] for r in train_rows]
    )

    step("choosing the threshold on dev")
    dev_scores = pipeline.predict_proba([normalize(r["text"]) for r in dev_rows])[:, 1]
    y_dev = np.array([r["label"] for r in dev_rows])
    threshold = choose_threshold(y_dev, dev_scores, TARGET_RECALL)

    step("measuring dev and test")
    test_scores = pipeline.predict_proba([normalize(r["text"]) for r in test_rows])[:, 1]
    y_test = np.array([r["label"] for r in test_rows])
    files = [data_dir / f"{n}.jsonl" for n in ("train", "dev")]
    digest = data_hash(files)
    version = f"tutorwatch-{datetime.now(UTC):%Y%m%d}-{digest[:8]}"
    import jieba
    import sklearn
    import skops

    metadata = {
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "data_sha256": digest,
        "examples": {"train": len(train_rows), "dev": len(dev_rows), "test": len(test_rows)},
        "metrics": {
            "dev": metrics(y_dev, (dev_scores >= threshold).astype(int)),
            "test": metrics(y_test, (test_scores >= threshold).astype(int)),
        },
        "target_recall": TARGET_RECALL,
        "libraries": {
            "python": platform.python_version(), "scikit-learn": sklearn.__version__,
            "jieba": jieba.__version__, "skops": skops.__version__, "numpy": np.__version__,
        },
    }
    model = Classifier(pipeline, category_model, threshold, version, metadata)
    step(f"saving {out_path}")
    model.save(out_path, metadata)
    return model
