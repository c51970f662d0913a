"""The character-n-gram baseline every report shows beside the model and the keyword list.

TF-IDF of character 1–3-grams of the raw text and a logistic regression with scikit-learn's
defaults, flagging at probability 0.5 (``predict``): the ten-line model issue 16 measured the
shipped model against. Nothing about it is tuned, so it needs no threshold rule and no dev
split; it is fitted on the same examples as the model it is compared with (the splits the
model's sidecar names in ``fitted_on``) and is never saved.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from classifier.corpus import DATA_DIR, load_split

NAME = "char n-gram baseline"
THRESHOLD = 0.5


def build_baseline() -> Pipeline:
    return Pipeline([
        ("chars", TfidfVectorizer(analyzer="char", ngram_range=(1, 3))),
        ("clf", LogisticRegression(max_iter=2000)),
    ])


def fit_baseline(texts: Sequence[str], labels: Sequence[int]) -> Pipeline:
    return build_baseline().fit(list(texts), list(labels))


def fit_on_splits(splits: Sequence[str], data_dir: Path = DATA_DIR) -> Pipeline:
    """The baseline fitted on the named corpus splits (those a model was fitted on)."""
    rows = [row for name in splits for row in load_split(name, data_dir)]
    return fit_baseline([r["text"] for r in rows], [r["label"] for r in rows])


def baseline_labels(baseline: Pipeline, texts: Sequence[str]) -> list[int]:
    scores = baseline.predict_proba(list(texts))[:, list(baseline.classes_).index(1)]
    return [int(score >= THRESHOLD) for score in scores]
