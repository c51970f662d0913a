"""The model: TF-IDF over jieba words and characters plus the rule features of
``classifier.rules``, a calibrated logistic regression for the flag and a logistic regression
for the category, with explanations from the linear weights mapped back onto the original text.

Scores are scikit-learn's own calls (``FeatureUnion.transform``, then each model's
``predict_proba``) with its checks of valid input off; docs/benchmarks.md (2026-12-06) shows
that the copies of its TF-IDF transform and of the calibrated and softmax probabilities that
used to stand in for them no longer paid once ads were scored in batches.

Saved with ``skops.io`` (never pickle) next to a JSON sidecar; loading refuses any type outside
:data:`TRUSTED_TYPES`, naming it.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from scipy import sparse
from sklearn import config_context
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.validation import check_is_fitted

from classifier.fields import field_dicts, field_spans, strip_field_labels
from classifier.normalize import normalize, normalize_with_map
from classifier.rules import NAMES as RULE_NAMES
from classifier.rules import rule_features, rule_spans
from classifier.skops_types import sio  # skops.io (its default trusted types from a file)
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
    "classifier.fields.field_dicts",
    "classifier.fields.strip_field_labels",
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
    """Words and characters of the text without its template's field labels, the rule
    features, and the offer's structured fields (``classifier.fields``), all at weight 1.

    Measured by leave-one-register-out on the 12 source_types and by dev (docs/benchmarks.md,
    2026-12-06): the fields and the stripped labels left both within noise of the words and
    rules alone (mean LORO F1 -0.005 over the 11 with positives, dev +0.001); weighting the
    fields ×3 and the rules ×2, with or without C=4, did no better on the registers it was run
    on before it was stopped."""
    words = TfidfVectorizer(
        tokenizer=jieba_tokens, token_pattern=None, lowercase=False, ngram_range=(1, 2),
        min_df=2, sublinear_tf=True, max_features=20_000, preprocessor=strip_field_labels,
    )
    chars = TfidfVectorizer(
        analyzer="char", ngram_range=(2, 3), lowercase=False, min_df=2, sublinear_tf=True,
        max_features=30_000, preprocessor=strip_field_labels,
    )
    rules = FunctionTransformer(rule_features, accept_sparse=True)
    fields = Pipeline([("extract", FunctionTransformer(field_dicts)),
                       ("vector", DictVectorizer())])
    return FeatureUnion([("word", words), ("char", chars), ("rules", rules), ("fields", fields)])


def build_pipeline(c: float = 16.0) -> Pipeline:
    base = LogisticRegression(C=c, class_weight="balanced", max_iter=3000)
    calibrated = CalibratedClassifierCV(base, method="sigmoid", cv=5, ensemble=False)
    return Pipeline([("features", build_features()), ("clf", calibrated)])


def build_category_model(c: float = 4.0) -> LogisticRegression:
    return LogisticRegression(C=c, class_weight="balanced", max_iter=3000)


def feature_names(features: FeatureUnion) -> list[str]:
    """Names of the union's columns: ``word:<term>``, ``char:<n-gram>``, ``rule:<name>``,
    ``fields:<group=value>``."""
    names: list[str] = []
    for name, part in features.transformer_list:
        if name == "rules":
            names += [f"rule:{n}" for n in RULE_NAMES]
        elif name == "fields":
            names += [f"fields:{n}" for n in part.named_steps["vector"].get_feature_names_out()]
        else:
            names += [f"{name}:{term}" for term in part.get_feature_names_out()]
    return names


def _trusted_input() -> Any:
    """scikit-learn's checks of valid input off, for features made here from fitted estimators:
    finite by construction, and the estimators' parameters were checked when they were fitted.
    The checks cost about 0.25 ms a call, a tenth of the time to score one ad
    (``benchmarks/classifier_copies.py``); the arithmetic is the same."""
    return config_context(assume_finite=True, skip_parameter_validation=True)


def lay_out_for_scoring(category_model: LogisticRegression | None) -> None:
    """Store a fitted category model's weights in Fortran order (the same values).

    ``LogisticRegression.decision_function`` multiplies the sparse features by ``coef_.T``; for
    a C-order ``coef_`` SciPy first copies that transposed array (18 classes × 50,000 features,
    7 MB), which costs about 1 ms a call (scoring one ad takes about 2.3 ms without it)."""
    if category_model is not None and hasattr(category_model, "coef_"):
        category_model.coef_ = np.asfortranarray(category_model.coef_)


# How evidence finds a feature column in the text (``_Explainer.plans``).
_FIND, _RULE, _FIELD, _NOWHERE = range(4)


class _Explainer(NamedTuple):
    """What evidence needs from the fitted estimators, and the fitted objects it came from."""

    sources: tuple[Any, ...]
    coef: np.ndarray
    needles: list[tuple[str, str]]
    # Per column, how to find it (``_FIND`` the term as a substring, ``_RULE`` / ``_FIELD`` the
    # spans of a rule or field feature, ``_NOWHERE`` a term of white space) and what to find.
    plans: list[tuple[int, str]]


class Classifier(ClassifierMixin, BaseEstimator):
    """Flags ads and names their category: a scikit-learn ``Pipeline`` (the features, then a
    calibrated logistic regression) for the flag, a ``LogisticRegression`` on the same features
    for the category, and the threshold at or above which a score is flagged.

    The scikit-learn contract it follows is a meta-estimator's, the way ``Pipeline`` follows it:

    - ``__init__`` stores its parameters as given; ``get_params``, ``set_params`` and ``clone``
      work (a clone holds unfitted copies of the two estimators);
    - ``fit(texts, y, categories)`` fits the estimators it was given in place, as ``Pipeline``
      fits its steps, and returns ``self``. The threshold is a parameter, not learned here:
      ``classifier.train`` chooses it on out-of-fold scores;
    - ``predict_proba``, ``predict``, ``scores`` and ``classify`` take raw texts (normalised
      here); ``classes_`` is the pipeline's. It learns no attribute of its own: what is learned
      lives in the fitted estimators.

    :func:`load_model` returns one with both estimators fitted. Probabilities are the
    estimators' own ``transform`` and ``predict_proba``, called with scikit-learn's checks of
    valid input turned off (the features are made here, finite by construction, from
    estimators whose parameters were checked when they were fitted). Evidence needs the flag
    model's linear weights, which ``CalibratedClassifierCV`` keeps only in
    ``calibrated_classifiers_[0].estimator`` (an attribute of its private
    ``_CalibratedClassifier``): the one private attribute read here, relied on by the evidence
    tests.
    """

    def __init__(
        self, pipeline: Pipeline, category_model: LogisticRegression | None = None,
        threshold: float = 0.5, version: str = "", metadata: dict[str, Any] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.category_model = category_model
        self.threshold = threshold
        self.version = version
        self.metadata = metadata

    def __sklearn_is_fitted__(self) -> bool:
        try:
            check_is_fitted(self.pipeline)
        except NotFittedError:
            return False
        return True

    @property
    def classes_(self) -> np.ndarray:
        return self.pipeline.classes_

    def fit(self, texts: list[str], y: Any, categories: list[str] | None = None,
            sample_weight: Any = None) -> Classifier:
        """Fit the flag pipeline on ``texts`` and their labels ``y`` (0/1) and the category
        model on the same features and ``categories``, each text weighing ``sample_weight``
        (default 1); returns the classifier."""
        if self.category_model is not None and categories is None:
            raise ValueError("categories: needed to fit the category model "
                             "(or build the classifier with category_model=None)")
        normed = [normalize(t) for t in texts]
        if sample_weight is None:
            self.pipeline.fit(normed, y)
        else:
            self.pipeline.fit(normed, y, clf__sample_weight=sample_weight)
        if self.category_model is not None:
            features = self.pipeline.named_steps["features"].transform(normed)
            self.category_model.fit(features, categories, sample_weight=sample_weight)
            lay_out_for_scoring(self.category_model)
        return self

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """Calibrated probabilities, one row per text, columns in the order of ``classes_``."""
        with _trusted_input():
            return self.pipeline.predict_proba([normalize(t) for t in texts])

    def predict(self, texts: list[str]) -> np.ndarray:
        """1 for a text scoring at or above the threshold, else 0."""
        return (self.scores(texts) >= self.threshold).astype(int)

    def scores(self, texts: list[str]) -> np.ndarray:
        """The probability that each text is a covert tutoring ad."""
        return self.predict_proba(texts)[:, self._positive_column()]

    def _positive_column(self) -> int:
        return int(np.flatnonzero(self.classes_ == 1)[0])

    def _predict(
        self, normed: list[str],
    ) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray | None]:
        """(features, flag probabilities, category probabilities) of normalised texts: what
        ``pipeline.predict_proba`` computes, keeping the features for the category model and
        the evidence."""
        with _trusted_input():
            features = self.pipeline.named_steps["features"].transform(normed)
            probs = self.pipeline.named_steps["clf"].predict_proba(features)
            cats = (self.category_model.predict_proba(features)
                    if self.category_model is not None else None)
        return sparse.csr_matrix(features), probs[:, self._positive_column()], cats

    def _explainer(self) -> _Explainer:
        """The flag model's linear weights and, per feature column, its kind and the string to
        look for in the text (a rule's name for rules), computed again when the estimators are
        refitted or replaced."""
        union, clf = self.pipeline.named_steps["features"], self.pipeline.named_steps["clf"]
        # Calibration is monotonic, so the order of the linear contributions is the order of
        # their effect on the score.
        linear = (clf.calibrated_classifiers_[0].estimator
                  if hasattr(clf, "calibrated_classifiers_") else clf)
        sources = (linear.coef_, *(part for _, part in union.transformer_list),
                   *(getattr(part, "vocabulary_", None) for _, part in union.transformer_list))
        cached = self.__dict__.get("_explainer_cache")
        if cached is not None and len(cached.sources) == len(sources) and all(
            a is b for a, b in zip(cached.sources, sources, strict=True)
        ):
            return cached
        needles = []
        for name in feature_names(union):
            kind, _, term = name.partition(":")
            needles.append((kind, term.replace(" ", "") if kind == "word" else term))
        kinds = {"rule": _RULE, "fields": _FIELD}
        plans = [(kinds.get(kind, _FIND if term.strip() else _NOWHERE), term)
                 for kind, term in needles]
        made = _Explainer(sources, np.asarray(linear.coef_[0]), needles, plans)
        self.__dict__["_explainer_cache"] = made
        return made

    def classify(self, texts: list[str], evidence_spans: int = 8) -> list[Verdict]:
        mapped = [normalize_with_map(t) for t in texts]
        features, probs, cat_probs = self._predict([m[0] for m in mapped])
        categories = (self._categories(cat_probs, probs >= self.threshold)
                      if cat_probs is not None else [""] * len(texts))
        evidence: list[list[dict[str, Any]]] = [[] for _ in texts]
        if evidence_spans:
            evidence = self._batch_evidence(features, texts, mapped, evidence_spans)
        return [
            Verdict(float(round(score, 6)), int(score >= self.threshold), category, spans,
                    self.version)
            for score, category, spans in zip(probs, categories, evidence, strict=True)
        ]

    def _category(self, probs: np.ndarray, positive: bool) -> str:
        allowed = POSITIVE_CATEGORIES if positive else NEGATIVE_CATEGORIES
        classes = list(self.category_model.classes_)
        best, best_p = "", -1.0
        for name in allowed:
            if name in classes and probs[classes.index(name)] > best_p:
                best, best_p = name, probs[classes.index(name)]
        return best

    def _categories(self, probs: np.ndarray, positive: np.ndarray) -> list[str]:
        """:meth:`_category` of each row of ``probs`` at once: the allowed category of the
        highest probability, the first of them in the allowed order on a tie."""
        classes = list(self.category_model.classes_)
        chosen = {}
        for flag, allowed in ((True, POSITIVE_CATEGORIES), (False, NEGATIVE_CATEGORIES)):
            names = [name for name in allowed if name in classes]
            if not names:
                chosen[flag] = [""] * len(probs)
                continue
            columns = probs[:, [classes.index(name) for name in names]]
            chosen[flag] = [names[i] for i in np.argmax(columns, axis=1).tolist()]
        return [chosen[flag][row] for row, flag in enumerate(positive.tolist())]

    def _batch_evidence(
        self, features: sparse.csr_matrix, texts: list[str], mapped: list[tuple[str, Any]],
        limit: int,
    ) -> list[list[dict[str, Any]]]:
        """The evidence of each text of a batch: each feature's contribution to the score
        (TF-IDF value × linear weight), its positive ones kept for the whole batch at once."""
        explainer = self._explainer()
        contributions = features.data * explainer.coef[features.indices]
        positive = contributions > 0
        bounds = np.concatenate(([0], np.cumsum(positive)))[features.indptr].tolist()
        columns, weights = features.indices[positive], contributions[positive]
        columns_list, weights_list = columns.tolist(), weights.tolist()
        keep = limit * 6
        out = []
        for row, (original, (normed, offsets)) in enumerate(zip(texts, mapped, strict=True)):
            lo, hi = bounds[row], bounds[row + 1]
            if not normed or lo == hi:
                out.append([])
                continue
            if hi - lo > keep:
                # The strongest ``keep`` contributions, chosen as before among equal ones; the
                # order they are visited in does not matter (their spans are sorted).
                top = np.argpartition(-weights[lo:hi], keep - 1)[:keep]
                chosen = zip(columns[lo:hi][top].tolist(), weights[lo:hi][top].tolist(),
                             strict=True)
            else:
                chosen = zip(columns_list[lo:hi], weights_list[lo:hi], strict=True)
            out.append(self._evidence(chosen, str(original or ""), normed, offsets, limit,
                                      explainer.plans))
        return out

    @staticmethod
    def _evidence(
        chosen: Any, original: str, normed: str, offsets: Any, limit: int,
        plans: list[tuple[int, str]],
    ) -> list[dict[str, Any]]:
        """The spans of the original text that pushed the score up most: each chosen feature's
        contribution (``(column, TF-IDF value × weight)``, positive) is laid on the characters
        it matched, overlapping spans are merged, and the strongest are mapped back to the
        original characters."""
        spans: list[tuple[int, int, float]] = []
        for idx, weight in chosen:
            how, needle = plans[idx]
            if how == _FIND:
                start = normed.find(needle)
                if start >= 0:
                    spans.append((start, start + len(needle), weight))
                continue
            if how == _RULE:
                found = rule_spans(normed, needle, 3)
            elif how == _FIELD:
                found = field_spans(normed, needle, 3)
            else:
                continue
            for start, end in found:
                spans.append((start, end, weight / len(found)))
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
        vectorizers = [(name, step) for name, step in features
                       if isinstance(step, TfidfVectorizer)]
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
    except sio.exceptions.UntrustedTypesFoundException:
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
    lay_out_for_scoring(bundle.get("category"))
    return Classifier(
        bundle["pipeline"], bundle.get("category"), float(metadata["threshold"]),
        str(metadata["version"]), metadata,
    )
