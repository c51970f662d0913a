"""The model: TF-IDF over jieba words and characters, a logistic regression for the flag and
one for the category, with explanations from the linear weights.

Saved with ``skops.io`` (never pickle) next to a JSON sidecar; loading refuses any type outside
:data:`TRUSTED_TYPES`, naming it.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import skops.io as sio
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from classifier.normalize import normalize
from classifier.tokenize import jieba_tokens

MODELS_DIR = Path(__file__).resolve().parent / "models"
DEFAULT_MODEL_PATH = MODELS_DIR / "tutorwatch.skops"

POSITIVE_CATEGORIES = (
    "open_tutoring", "tuoguan", "study_room", "housekeeping", "crowdfunded", "camp",
    "consulting_rebrand", "online", "inservice_teacher", "recruitment", "preschool",
)
NEGATIVE_CATEGORIES = (
    "pure_care", "non_subject", "adult", "school_service", "news_or_notice", "inquiry", "unrelated",
)

# The only types outside skops' own trusted defaults (numpy, scipy, scikit-learn) that a model
# file may contain. A new type in a saved model must be
# reviewed and added here (tests/classifier/test_model.py fails until it is).
TRUSTED_TYPES = [
    "classifier.tokenize.jieba_tokens",
]


class ModelLoadError(RuntimeError):
    """A model file that is missing, unreadable or holds an untrusted type."""


@dataclass
class Verdict:
    score: float
    label: int
    category: str
    evidence: list[str] = field(default_factory=list)
    model_version: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_features() -> FeatureUnion:
    words = TfidfVectorizer(
        tokenizer=jieba_tokens, token_pattern=None, lowercase=False, ngram_range=(1, 2),
        min_df=2, sublinear_tf=True, max_features=20_000,
    )
    chars = TfidfVectorizer(
        analyzer="char", ngram_range=(2, 4), lowercase=False, min_df=2, sublinear_tf=True,
        max_features=30_000,
    )
    return FeatureUnion([("word", words), ("char", chars)])


def build_pipeline(c: float = 4.0) -> Pipeline:
    return Pipeline(
        [
            ("features", build_features()),
            ("clf", LogisticRegression(C=c, class_weight="balanced", max_iter=2000)),
        ]
    )


def build_category_model(c: float = 4.0) -> LogisticRegression:
    return LogisticRegression(C=c, class_weight="balanced", max_iter=2000)


class Classifier:
    """A trained model ready to classify: the flag pipeline, the category head, the threshold."""

    def __init__(
        self, pipeline: Pipeline, category_model: LogisticRegression | None,
        threshold: float, version: str, metadata: dict[str, Any] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.category_model = category_model
        self.threshold = threshold
        self.version = version
        self.metadata = metadata or {}

    @cached_property
    def _feature_names(self) -> np.ndarray:
        return self.pipeline.named_steps["features"].get_feature_names_out()

    def scores(self, texts: list[str]) -> np.ndarray:
        normed = [normalize(t) for t in texts]
        return self.pipeline.predict_proba(normed)[:, 1]

    def classify(self, texts: list[str], evidence_terms: int = 8) -> list[Verdict]:
        normed = [normalize(t) for t in texts]
        features = self.pipeline.named_steps["features"].transform(normed)
        clf = self.pipeline.named_steps["clf"]
        probs = clf.predict_proba(features)[:, 1]
        cat_probs = (
            self.category_model.predict_proba(features) if self.category_model is not None else None
        )
        verdicts = []
        for row, (text, score) in enumerate(zip(normed, probs, strict=True)):
            label = int(score >= self.threshold)
            category = ""
            if cat_probs is not None:
                category = self._category(cat_probs[row], bool(label))
            evidence = self._evidence(features.getrow(row), text, clf.coef_[0], evidence_terms)
            verdicts.append(
                Verdict(float(round(score, 6)), label, category, evidence, self.version)
            )
        return verdicts

    def _category(self, probs: np.ndarray, positive: bool) -> str:
        allowed = POSITIVE_CATEGORIES if positive else NEGATIVE_CATEGORIES
        classes = list(self.category_model.classes_)
        best, best_p = "", -1.0
        for name in allowed:
            if name in classes and probs[classes.index(name)] > best_p:
                best, best_p = name, probs[classes.index(name)]
        return best

    def _evidence(self, row: Any, text: str, coef: np.ndarray, limit: int) -> list[str]:
        """Terms of ``text`` that pushed the score up most, overlapping character n-grams
        merged into the longer span of text they cover."""
        if row.nnz == 0:
            return []
        contributions = row.data * coef[row.indices]
        order = np.argsort(-contributions)
        spans: list[tuple[int, int, float]] = []
        for idx in order[: limit * 4]:
            weight = contributions[idx]
            if weight <= 0:
                break
            name = str(self._feature_names[row.indices[idx]])
            term = name.split("__", 1)[1].replace(" ", "")
            start = text.find(term)
            if start < 0 or not term.strip():
                continue
            spans.append((start, start + len(term), float(weight)))
        spans.sort()
        merged: list[list[float]] = []
        for start, end, weight in spans:
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
                merged[-1][2] += weight
            else:
                merged.append([start, end, weight])
        merged.sort(key=lambda span: -span[2])
        terms: list[str] = []
        for start, end, _ in merged:
            term = text[int(start):int(end)].strip()
            if len(term) >= 2 and term not in terms:
                terms.append(term)
            if len(terms) >= limit:
                break
        return terms

    def save(self, path: Path, metadata: dict[str, Any]) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        for _, vectorizer in self.pipeline.named_steps["features"].transformer_list:
            # Terms cut by min_df / max_features: only needed for introspection, and most of the file.
            if hasattr(vectorizer, "stop_words_"):
                del vectorizer.stop_words_
            # numpy integers would each be stored as a separate array: keep plain ints.
            vectorizer.vocabulary_ = {term: int(i) for term, i in vectorizer.vocabulary_.items()}
        sio.dump(
            {"pipeline": self.pipeline, "category": self.category_model}, path,
            compression=zipfile.ZIP_DEFLATED,
        )
        untrusted = sorted(sio.get_untrusted_types(file=path))
        path.with_suffix(".trusted.json").write_text(json.dumps(untrusted, indent=1) + "\n")
        sidecar = {**metadata, "version": self.version, "threshold": self.threshold}
        path.with_suffix(".json").write_text(json.dumps(sidecar, ensure_ascii=False, indent=1) + "\n")


def load_model(path: str | Path | None = None) -> Classifier:
    """Load a model file written by :meth:`Classifier.save`, trusting only :data:`TRUSTED_TYPES`."""
    path = Path(path) if path else DEFAULT_MODEL_PATH
    sidecar_path = path.with_suffix(".json")
    if not path.is_file():
        raise ModelLoadError(f"model file not found: {path} (train one with `tutorwatch train`)")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:
        raise ModelLoadError(f"{path}: not a readable skops model: {exc}") from exc
    unknown = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if unknown:
        raise ModelLoadError(
            f"{path}: refusing to load untrusted type(s): {', '.join(unknown)}"
        )
    try:
        bundle = sio.load(path, trusted=list(untrusted))
    except Exception as exc:
        raise ModelLoadError(f"{path}: cannot load: {exc}") from exc
    if not isinstance(bundle, dict) or "pipeline" not in bundle:
        raise ModelLoadError(f"{path}: not a tutorwatch model")
    try:
        metadata = json.loads(sidecar_path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{sidecar_path}: missing or unreadable model sidecar: {exc}") from exc
    return Classifier(
        bundle["pipeline"], bundle.get("category"), float(metadata["threshold"]),
        str(metadata["version"]), metadata,
    )
