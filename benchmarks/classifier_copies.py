"""Does each fast copy of library code in the classifier still pay? Batch scoring with and
without each one, in one run.

    python benchmarks/classifier_copies.py [--texts 512] [--rounds 15] [--batches 1,10,100,256]

The same corpus texts are scored with ``Classifier.classify`` (score, category, 8 evidence
spans, as a crawl and ``tutorwatch classify`` ask) in batches of each size: 1, 10 and 100 as
a crawl's pipeline worker makes them, 256 as ``tutorwatch classify`` does. Each variant turns
one copy off and calls the library instead, as it comes ("plain") and with scikit-learn's
public switches for inputs known to be valid (``sklearn.config_context(assume_finite=True,
skip_parameter_validation=True)``, "checks off"):

- TF-IDF: ``TfidfVectorizer.transform`` (and ``FunctionTransformer.transform`` for the rule
  features) instead of ``classifier.model._Tfidf``;
- flag: ``CalibratedClassifierCV.predict_proba`` instead of the calibrated probability computed
  from the fitted weights and the calibrator's private ``a_`` and ``b_``; "by calibrator": the
  calibrated pair's own ``estimator.decision_function`` and ``calibrators[0].predict``;
- category: ``LogisticRegression.predict_proba`` instead of the softmax computed from its
  weights; "checks off" also lays ``coef_`` out in Fortran order (the same values), because
  SciPy copies the transposed C-order weights (50,000 × 18) on every product;
- cut: ``jieba.Tokenizer.lcut(text, HMM=False)`` instead of ``classifier.tokenize.cut_exact``;
- library only: the fitted ``Pipeline``'s own calls (``FeatureUnion.transform``, the two
  ``predict_proba``) and jieba's cut, plain and with checks off.

Runs are interleaved (every variant once per round, in a rotating order) and timed in CPU
seconds of the process, because other work may share the machine; each variant's best round
counts. Prints CPU milliseconds per ad and, per variant, the ratio of its time to the shipped
code's (above 1: the copy saves time) and the share of the variant's time that the shipped
code saves. Every variant is first checked to give the shipped verdicts.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import os
import platform
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import numpy as np
import sklearn
from scipy import sparse
from scipy.special import expit, softmax

from classifier import load_model
from classifier import model as model_module
from classifier import tokenize as tokenize_module
from classifier.corpus import load_split
from classifier.model import Classifier
from classifier.tokenize import tokenizer

Patch = Callable[[Classifier, ExitStack], None]


def _set(stack: ExitStack, owner: Any, name: str, value: Any) -> None:
    """``owner.name = value`` until the variant ends."""
    missing = object()
    saved = owner.__dict__.get(name, missing) if hasattr(owner, "__dict__") else missing
    setattr(owner, name, value)

    def restore() -> None:
        if saved is missing:
            delattr(owner, name)
        else:
            setattr(owner, name, saved)
    stack.callback(restore)


def _checks_off(model: Classifier, stack: ExitStack) -> None:
    stack.enter_context(sklearn.config_context(assume_finite=True, skip_parameter_validation=True))


def _fortran_coef(model: Classifier, stack: ExitStack) -> None:
    _set(stack, model.category_model, "coef_", np.asfortranarray(model.category_model.coef_))


def _predict_with(model: Classifier, stack: ExitStack, *, flag: bool, category: bool) -> None:
    """``Classifier._predict`` with the shipped features and the library's probabilities for the
    flag and/or the category."""
    parts, (weights, bias, a, b), (coef_t, intercept) = model._direct
    clf = model.pipeline.named_steps["clf"]

    def predict(normed: list[str]) -> tuple[Any, Any, Any]:
        features = sparse.hstack([transform(normed) for transform in parts], format="csr")
        probs = (clf.predict_proba(features)[:, 1] if flag
                 else expit(-(a * (features @ weights + bias) + b)))
        cats = (model.category_model.predict_proba(features) if category
                else softmax(features @ coef_t + intercept, axis=1))
        return features, probs, cats
    _set(stack, model, "_predict", predict)


def library_tfidf(model: Classifier, stack: ExitStack) -> None:
    _set(stack, model_module._Tfidf, "handles", staticmethod(lambda vectorizer: False))
    model.__dict__.pop("_direct", None)  # rebuilt with the vectorizers' own transform
    stack.callback(model.__dict__.pop, "_direct", None)
    # FunctionTransformer.transform too, not its function alone.
    _set(stack, model_module, "_direct_transform", lambda part: part.transform)


def library_flag(model: Classifier, stack: ExitStack) -> None:
    _predict_with(model, stack, flag=True, category=False)


def calibrator_flag(model: Classifier, stack: ExitStack) -> None:
    """The flag from the calibrated pair's own calls: the fitted estimator's
    ``decision_function``, then the calibrator's ``predict``."""
    parts, _, (coef_t, intercept) = model._direct
    pair = model.pipeline.named_steps["clf"].calibrated_classifiers_[0]

    def predict(normed: list[str]) -> tuple[Any, Any, Any]:
        features = sparse.hstack([transform(normed) for transform in parts], format="csr")
        probs = pair.calibrators[0].predict(pair.estimator.decision_function(features))
        return features, probs, softmax(features @ coef_t + intercept, axis=1)
    _set(stack, model, "_predict", predict)


def library_category(model: Classifier, stack: ExitStack) -> None:
    _predict_with(model, stack, flag=False, category=True)


def library_cut(model: Classifier, stack: ExitStack) -> None:
    _set(stack, tokenize_module, "cut_exact", lambda text: tokenizer().lcut(text, HMM=False))


def library_only(model: Classifier, stack: ExitStack) -> None:
    model.__dict__["_direct"] = None  # Classifier._predict then calls the pipeline's steps
    stack.callback(model.__dict__.pop, "_direct", None)
    library_cut(model, stack)


VARIANTS: dict[str, list[Patch]] = {
    "shipped": [],
    "TF-IDF plain": [library_tfidf],
    "TF-IDF checks off": [library_tfidf, _checks_off],
    "flag plain": [library_flag],
    "flag checks off": [library_flag, _checks_off],
    "flag by calibrator": [calibrator_flag, _checks_off],
    "category plain": [library_category],
    "category checks off": [library_category, _fortran_coef, _checks_off],
    "cut": [library_cut],
    "library only plain": [library_only],
    "library only checks off": [library_only, _fortran_coef, _checks_off],
}


@contextmanager
def variant(model: Classifier, patches: list[Patch]) -> Iterator[None]:
    with ExitStack() as stack:
        for patch in patches:
            patch(model, stack)
        yield


def _time(model: Classifier, texts: list[str], batch: int) -> float:
    gc.collect()
    started = time.process_time()
    for start in range(0, len(texts), batch):
        model.classify(texts[start:start + batch])
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--texts", type=int, default=512, help="texts per timing (512)")
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (15)")
    parser.add_argument("--batches", default="1,10,100,256", help="batch sizes (1,10,100,256)")
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]

    corpus = [r["text"] for split in ("train", "dev", "test") for r in load_split(split)]
    texts = list(itertools.islice(itertools.cycle(corpus), args.texts))
    model = load_model()

    # Every variant once before timing (jieba's dictionary, normalisation's caches), checking
    # that it gives the shipped verdicts.
    reference = [v.as_dict() for v in model.classify(texts[:200])]
    for name, patches in VARIANTS.items():
        with variant(model, patches):
            if [v.as_dict() for v in model.classify(texts[:200])] != reference:
                raise SystemExit(f"{name}: verdicts differ from the shipped code's")

    load_before = os.getloadavg()[0]
    best: dict[tuple[str, int], float] = {}
    names = list(VARIANTS)
    for round_ in range(args.rounds):
        order = names[round_ % len(names):] + names[:round_ % len(names)]
        for batch in batches:
            for name in order:
                with variant(model, VARIANTS[name]):
                    seconds = _time(model, texts, batch)
                best[(name, batch)] = min(best.get((name, batch), seconds), seconds)

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python "
          f"{platform.python_version()}, scikit-learn {sklearn.__version__}; 1-minute load "
          f"average {load_before:.2f} at the start, {os.getloadavg()[0]:.2f} at the end")
    print(f"{len(texts)} texts ({sum(map(len, texts)) / len(texts):.0f} characters on average), "
          f"best of {args.rounds} interleaved rounds; CPU ms per ad, ×: time / shipped time, "
          "%: share of the variant's time the shipped code saves")
    print(f"{'library instead of':<26}" + "".join(f"{f'batch {b}':>23}" for b in batches))
    for name in names:
        cells = []
        for batch in batches:
            ms = best[(name, batch)] / len(texts) * 1000
            ratio = best[(name, batch)] / best[("shipped", batch)]
            saved = 1 - 1 / ratio
            cells.append(f"{ms:>23.3f}" if name == "shipped"
                         else f"{ms:>8.3f} ×{ratio:5.2f} {saved:5.0%}")
        print(f"{name:<26}" + "".join(cells))


if __name__ == "__main__":
    main()
