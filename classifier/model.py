"""The model: TF-IDF over jieba words and characters plus the rule features of
``classifier.rules``, a calibrated logistic regression for the flag and a logistic regression
for the category, with explanations from the linear weights mapped back onto the original text.

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
from scipy import sparse
from scipy.special import expit, softmax
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer
from skops.io.exceptions import UntrustedTypesFoundException

from classifier.normalize import normalize, normalize_with_map
from classifier.rules import NAMES as RULE_NAMES
from classifier.rules import rule_features, rule_spans
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
    "classifier.rules.rule_features",
    "classifier.tokenize.jieba_tokens",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
]


class ModelLoadError(RuntimeError):
    """A model file that is missing, unreadable or holds an untrusted type."""


@dataclass
class Verdict:
    score: float
    label: int
    category: str
    evidence: list[dict[str, Any]] = field(default_factory=list)
    model_version: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_features() -> FeatureUnion:
    words = TfidfVectorizer(
        tokenizer=jieba_tokens, token_pattern=None, lowercase=False, ngram_range=(1, 2),
        min_df=2, sublinear_tf=True, max_features=20_000,
    )
    chars = TfidfVectorizer(
        analyzer="char", ngram_range=(2, 3), lowercase=False, min_df=2, sublinear_tf=True,
        max_features=30_000,
    )
    rules = FunctionTransformer(rule_features, accept_sparse=True)
    return FeatureUnion([("word", words), ("char", chars), ("rules", rules)])


def build_pipeline(c: float = 16.0) -> Pipeline:
    base = LogisticRegression(C=c, class_weight="balanced", max_iter=3000)
    calibrated = CalibratedClassifierCV(base, method="sigmoid", cv=5, ensemble=False)
    return Pipeline([("features", build_features()), ("clf", calibrated)])


def build_category_model(c: float = 4.0) -> LogisticRegression:
    return LogisticRegression(C=c, class_weight="balanced", max_iter=3000)


def feature_names(features: FeatureUnion) -> list[str]:
    """Names of the union's columns: ``word:<term>``, ``char:<n-gram>``, ``rule:<name>``."""
    names: list[str] = []
    for name, part in features.transformer_list:
        if name == "rules":
            names += [f"rule:{n}" for n in RULE_NAMES]
        else:
            names += [f"{name}:{term}" for term in part.get_feature_names_out()]
    return names


def _direct_transform(part: Any) -> Any:
    """``part.transform`` of a fitted feature part, or a function computing the same from its
    fitted attributes without scikit-learn's per-call checks."""
    if isinstance(part, TfidfVectorizer) and _Tfidf.handles(part):
        return _Tfidf(part)
    if isinstance(part, FunctionTransformer) and not part.validate and part.kw_args is None:
        return part.func
    return part.transform


class _Tfidf:
    """``TfidfVectorizer.transform`` from the fitted vocabulary and IDF weights: count the
    analyser's terms, take 1 + log of each count (``sublinear_tf``), weight by IDF and scale each
    row to unit length, as scikit-learn does."""

    def __init__(self, vectorizer: TfidfVectorizer) -> None:
        self.analyze = vectorizer.build_analyzer()
        self.vocabulary = vectorizer.vocabulary_
        self.idf = np.asarray(vectorizer.idf_, dtype=np.float64)
        self.sublinear = bool(vectorizer.sublinear_tf)

    @staticmethod
    def handles(vectorizer: TfidfVectorizer) -> bool:
        return (vectorizer.use_idf and vectorizer.norm == "l2" and not vectorizer.binary
                and np.dtype(vectorizer.dtype) == np.float64 and hasattr(vectorizer, "idf_"))

    def __call__(self, docs: list[str]) -> sparse.csr_matrix:
        vocabulary, indices, counts, indptr = self.vocabulary, [], [], [0]
        for doc in docs:
            row: dict[int, int] = {}
            for term in self.analyze(doc):
                column = vocabulary.get(term)
                if column is not None:
                    row[column] = row.get(column, 0) + 1
            for column in sorted(row):
                indices.append(column)
                counts.append(row[column])
            indptr.append(len(indices))
        columns = np.asarray(indices, dtype=np.int32)
        data = np.asarray(counts, dtype=np.float64)
        if self.sublinear:
            np.log(data, out=data)
            data += 1
        data *= self.idf[columns]
        rows = np.repeat(np.arange(len(docs)), np.diff(indptr))
        norms = np.sqrt(np.bincount(rows, weights=data * data, minlength=len(docs)))
        data /= norms[rows]
        return sparse.csr_matrix((data, columns, np.asarray(indptr, dtype=np.int32)),
                                 shape=(len(docs), len(self.idf)))


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
    def _feature_names(self) -> list[str]:
        return feature_names(self.pipeline.named_steps["features"])

    @cached_property
    def _coef(self) -> np.ndarray:
        """Weights of the flag model's linear part (calibration is monotonic, so the order of
        contributions is the order of their effect on the score)."""
        clf = self.pipeline.named_steps["clf"]
        if hasattr(clf, "calibrated_classifiers_"):
            return np.asarray(clf.calibrated_classifiers_[0].estimator.coef_[0])
        return np.asarray(clf.coef_[0])

    def scores(self, texts: list[str]) -> np.ndarray:
        normed = [normalize(t) for t in texts]
        return self.pipeline.predict_proba(normed)[:, 1]

    @cached_property
    def _direct(self) -> tuple[Any, ...] | None:
        """The fitted parts, for computing what ``pipeline.predict_proba`` and the category
        model's ``predict_proba`` compute without scikit-learn's per-call checks, which cost
        about 2 ms a call: most of the time when a crawl classifies one ad at a time.
        None when the pipeline is not the shape :func:`build_pipeline` makes (then the
        pipeline itself is used); tests check both ways give the same scores."""
        union, clf = self.pipeline.named_steps["features"], self.pipeline.named_steps["clf"]
        parts = [part for _, part in union.transformer_list]
        if union.transformer_weights or any(isinstance(p, str) for p in parts):
            return None
        parts = [_direct_transform(part) for part in parts]
        calibrated = getattr(clf, "calibrated_classifiers_", None)
        if not calibrated or len(calibrated) != 1 or len(calibrated[0].calibrators) != 1:
            return None
        estimator, calibrator = calibrated[0].estimator, calibrated[0].calibrators[0]
        if list(calibrated[0].classes) != [0, 1] or not hasattr(calibrator, "a_"):
            return None
        flag = (np.ascontiguousarray(estimator.coef_[0]), float(estimator.intercept_[0]),
                float(calibrator.a_), float(calibrator.b_))
        category = None
        model = self.category_model
        if model is not None and len(model.classes_) > 2:
            category = (np.ascontiguousarray(model.coef_.T), model.intercept_)
        return parts, flag, category

    def _predict(self, normed: list[str]) -> tuple[Any, np.ndarray, np.ndarray | None]:
        """(features, flag probabilities, category probabilities) of normalised texts."""
        direct = self._direct
        if direct is None:
            features = self.pipeline.named_steps["features"].transform(normed)
            probs = self.pipeline.named_steps["clf"].predict_proba(features)[:, 1]
            cats = (self.category_model.predict_proba(features)
                    if self.category_model is not None else None)
            return sparse.csr_matrix(features), probs, cats
        parts, (weights, bias, a, b), category = direct
        features = sparse.hstack([transform(normed) for transform in parts], format="csr")
        probs = expit(-(a * (features @ weights + bias) + b))
        cats = None
        if category is not None:
            cats = softmax(features @ category[0] + category[1], axis=1)
        elif self.category_model is not None:
            cats = self.category_model.predict_proba(features)
        return features, probs, cats

    @cached_property
    def _needles(self) -> list[tuple[str, str]]:
        """Per feature column: its kind and the string to look for (a rule's name for rules)."""
        out = []
        for name in self._feature_names:
            kind, _, term = name.partition(":")
            out.append((kind, term.replace(" ", "") if kind == "word" else term))
        return out

    def classify(self, texts: list[str], evidence_spans: int = 8) -> list[Verdict]:
        mapped = [normalize_with_map(t) for t in texts]
        features, probs, cat_probs = self._predict([m[0] for m in mapped])
        # Each feature's contribution to the score (TF-IDF value × weight), for the whole batch.
        contributions = None
        if evidence_spans:
            contributions = features.copy()
            contributions.data = features.data * self._coef[features.indices]
        verdicts = []
        for row, (original, (normed, offsets), score) in enumerate(
            zip(texts, mapped, probs, strict=True)
        ):
            label = int(score >= self.threshold)
            category = self._category(cat_probs[row], bool(label)) if cat_probs is not None else ""
            evidence = []
            if contributions is not None:
                lo, hi = contributions.indptr[row], contributions.indptr[row + 1]
                evidence = self._evidence(
                    contributions.indices[lo:hi], contributions.data[lo:hi], str(original or ""),
                    normed, offsets, evidence_spans,
                )
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

    def _evidence(
        self, indices: np.ndarray, contributions: np.ndarray, original: str, normed: str,
        offsets: Any, limit: int,
    ) -> list[dict[str, Any]]:
        """The spans of the original text that pushed the score up most: each feature's
        contribution (TF-IDF value × weight) is laid on the characters it matched, overlapping
        spans are merged, and the strongest are mapped back to the original characters."""
        if not normed:
            return []
        positive = contributions > 0
        indices, contributions = indices[positive], contributions[positive]
        if len(indices) == 0:
            return []
        keep = min(limit * 6, len(contributions))
        if keep < len(contributions):
            top = np.argpartition(-contributions, keep - 1)[:keep]
            order = top[np.argsort(-contributions[top])]
        else:
            order = np.argsort(-contributions)
        needles = self._needles
        spans: list[tuple[int, int, float]] = []
        for idx, weight in zip(indices[order].tolist(), contributions[order].tolist(), strict=True):
            kind, needle = needles[idx]
            if kind == "rule":
                found = rule_spans(normed, needle)[:3]
            else:
                start = normed.find(needle) if needle.strip() else -1
                found = [(start, start + len(needle))] if start >= 0 else []
            for start, end in found:
                spans.append((start, end, weight / max(len(found), 1)))
        spans.sort()
        merged: list[list[float]] = []
        for start, end, weight in spans:
            if merged and start < merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
                merged[-1][2] += weight
            else:
                merged.append([start, end, weight])
        merged.sort(key=lambda span: -span[2])
        out: list[dict[str, Any]] = []
        for start, end, weight in merged:
            a, b = offsets.span(int(start), int(end))
            text = original[a:b]
            if len(text.strip()) < 2 or any(o["start"] < b and a < o["end"] for o in out):
                continue
            out.append({"start": a, "end": b, "text": text, "weight": round(weight, 4)})
            if len(out) >= limit:
                break
        return out

    def save(self, path: Path, metadata: dict[str, Any]) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        features = self.pipeline.named_steps["features"].transformer_list
        vectorizers = [(name, step) for name, step in features if name != "rules"]
        vocabularies = {}
        for name, vectorizer in vectorizers:
            # Terms cut by min_df / max_features: only needed for introspection, and most of
            # the file.
            if hasattr(vectorizer, "stop_words_"):
                del vectorizer.stop_words_
            # Its terms in column order (scikit-learn's feature names), as a plain str array.
            vocabularies[name] = np.asarray(vectorizer.get_feature_names_out(), dtype=str)
        # A vocabulary is saved as one array of its terms in column order, not as a dict: skops
        # writes a dict entry by entry into its JSON schema (44 MB for this model's, and seconds
        # to read at every start), an array as one .npy file.
        saved = {name: vectorizer.__dict__.pop("vocabulary_") for name, vectorizer in vectorizers}
        try:
            sio.dump(
                {"pipeline": self.pipeline, "category": self.category_model,
                 "vocabularies": vocabularies},
                path, compression=zipfile.ZIP_DEFLATED,
            )
        finally:
            for name, vectorizer in vectorizers:
                vectorizer.vocabulary_ = saved[name]
        untrusted = sorted(sio.get_untrusted_types(file=path))
        path.with_suffix(".trusted.json").write_text(json.dumps(untrusted, indent=1) + "\n")
        sidecar = {**metadata, "version": self.version, "threshold": self.threshold}
        path.with_suffix(".json").write_text(
            json.dumps(sidecar, ensure_ascii=False, indent=1) + "\n"
        )


def _restore_vocabularies(pipeline: Pipeline, vocabularies: dict[str, np.ndarray]) -> None:
    """Give each vectorizer back the vocabulary that :meth:`Classifier.save` stored as an array
    (a model saved before that kept the dict in the vectorizer, and has no ``vocabularies``)."""
    vectorizers = dict(pipeline.named_steps["features"].transformer_list)
    for name, terms in vocabularies.items():
        vectorizers[name].vocabulary_ = {term: i for i, term in enumerate(terms.tolist())}


def load_model(path: str | Path | None = None) -> Classifier:
    """Load a model file written by :meth:`Classifier.save`, trusting only :data:`TRUSTED_TYPES`."""
    path = Path(path) if path else DEFAULT_MODEL_PATH
    sidecar_path = path.with_suffix(".json")
    if not path.is_file():
        raise ModelLoadError(f"model file not found: {path} (train one with `tutorwatch train`)")
    try:
        # skops audits every type in the file against the list before it builds any object.
        bundle = sio.load(path, trusted=TRUSTED_TYPES)
    except UntrustedTypesFoundException:
        unknown = sorted(set(sio.get_untrusted_types(file=path)) - set(TRUSTED_TYPES))
        raise ModelLoadError(
            f"{path}: refusing to load untrusted type(s): {', '.join(unknown)}"
        ) from None
    except Exception as exc:
        raise ModelLoadError(f"{path}: not a readable skops model: {exc}") from exc
    if not isinstance(bundle, dict) or "pipeline" not in bundle:
        raise ModelLoadError(f"{path}: not a tutorwatch model")
    try:
        _restore_vocabularies(bundle["pipeline"], bundle.get("vocabularies", {}))
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ModelLoadError(f"{path}: not a tutorwatch model: {exc}") from exc
    try:
        metadata = json.loads(sidecar_path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{sidecar_path}: missing or unreadable model sidecar: {exc}") from exc
    return Classifier(
        bundle["pipeline"], bundle.get("category"), float(metadata["threshold"]),
        str(metadata["version"]), metadata,
    )
