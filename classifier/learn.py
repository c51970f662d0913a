"""Training with officers' decisions: a candidate model fitted on the corpus (train + dev) plus
the decided ads, checked against the current model on the same data.

The decisions are labeled examples in the corpus format with ``decided_at`` and ``sample``
(``review_ui.decisions_dataset`` makes them from the store; ``tutorwatch dataset export`` writes
them for pooling). The most recent ``HOLD_OUT`` share of them by ``decided_at`` is never fitted
on: it is the check on the newest real posts. The rest are fitted on with the corpus, each
decision weighing ``weight`` corpus examples, by default :func:`decision_weight`'s
(docs/benchmarks.md, "learning curve", for the measurements behind it).

The threshold is chosen again on decided real posts when there are enough of them
(``MIN_THRESHOLD_DECISIONS``, with ``MIN_THRESHOLD_POSITIVES`` violations): out-of-fold scores
of the fitted decisions (each half scored by a candidate fitted on the corpus and the other
half), weighted by how each ad was drawn: a flagged ad stands for itself, an exploration sample
for ``1 / sample_rate`` unflagged ads. With fewer, the corpus rule's threshold stands (the
current model's, chosen by that rule on the same corpus) and the sidecar says so. The category
model and the calibration are fitted as for the shipped model.

No Django here: ``review_ui/management/commands/train.py`` reads the store.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import precision_recall_curve

from classifier.corpus import (
    DATA_DIR,
    CorpusError,
    check_example,
    data_hash,
    load_split,
    read_jsonl,
)
from classifier.model import Classifier, build_category_model, build_pipeline
from classifier.train import THRESHOLD_RECALL, metrics

HOLD_OUT = 0.2
DEFAULT_WEIGHT = None  # no weight given: decision_weight() chooses it
MIN_WEIGHT = 3.0
DECISION_SHARE = 0.25
DEFAULT_SAMPLE_RATE = 0.03
MIN_THRESHOLD_DECISIONS = 200
MIN_THRESHOLD_POSITIVES = 20
REAL_WORLD = Path(__file__).resolve().parents[2] / "shared" / "real-world" / "texts.jsonl"


class DecisionsError(ValueError):
    """The decisions cannot be trained on: none, or a bad one (named)."""


def check_decision(row: Any, where: str) -> dict[str, Any]:
    """A decision as a corpus example plus its ``decided_at`` (aware datetime) and ``sample``."""
    try:
        example = check_example(row, where)
    except CorpusError as exc:
        raise DecisionsError(str(exc)) from None
    try:
        decided_at = datetime.fromisoformat(str(row.get("decided_at")))
    except ValueError:
        raise DecisionsError(f"{where}: decided_at must be an ISO date and time, "
                             f"not {row.get('decided_at')!r}") from None
    if decided_at.tzinfo is None:
        raise DecisionsError(f"{where}: decided_at needs a time zone: {row['decided_at']!r}")
    if not isinstance(row.get("sample", False), bool):
        raise DecisionsError(f"{where}: sample must be true or false")
    rate = row.get("sample_rate")
    if rate is not None and (isinstance(rate, bool) or not isinstance(rate, (int, float))
                             or not 0 < rate <= 1):
        raise DecisionsError(f"{where}: sample_rate must be above 0 and at most 1, not {rate!r}")
    return {**example, "decided_at": decided_at, "sample": row.get("sample", False),
            "sample_rate": rate}


def decision_weight(corpus_size: int, decisions: int) -> float:
    """How many corpus examples each fitted decision weighs when no weight is given.

    A new disguise is first seen in a few dozen decisions against thousands of corpus examples;
    at a small constant weight the corpus drowns them (docs/benchmarks.md, learning curve: at 3,
    20 decisions of a form the model missed left recall on its unseen half at 0.53; at 40, dev
    and the held-out decisions chose 30 of 3, 10 and 30). So while the decisions are few they
    weigh ``DECISION_SHARE`` of the corpus together (about 30 each at 32); once they are many,
    each weighs ``MIN_WEIGHT``, and a decision's weight falls as their number grows."""
    return max(MIN_WEIGHT, DECISION_SHARE * corpus_size / max(decisions, 1))


def read_decisions(path: Path) -> list[dict[str, Any]]:
    """The decisions of an exported (or pooled) JSONL file; a bad line is named."""
    try:
        return read_jsonl(path, check_decision, DecisionsError)
    except (OSError, UnicodeDecodeError) as exc:
        raise DecisionsError(f"cannot read {path}: {exc}") from None


def decisions_digest(decisions: Iterable[dict[str, Any]]) -> str:
    """A SHA-256 of what a training learns from the decisions (text, label, category, time,
    how drawn), in a stable order: the same digest means nothing new to learn from."""
    import hashlib

    digest = hashlib.sha256()
    for row in sorted(decisions, key=lambda r: (str(r["id"]), r["decided_at"])):
        digest.update(json.dumps(
            [str(r) for r in (row["id"], row["text"], row["label"], row["category"],
                              row["decided_at"].isoformat(), row["sample"],
                              row.get("sample_rate"))],
            ensure_ascii=False).encode("utf-8") + b"\n")
    return digest.hexdigest()


def split_by_time(decisions: list[dict[str, Any]], hold_out: float = HOLD_OUT,
                  ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(fitted on, held out): the most recent ``hold_out`` share by ``decided_at`` held out
    (at least one: a candidate is never written without a check)."""
    ordered = sorted(decisions, key=lambda r: (r["decided_at"], r["id"]))
    held = max(round(len(ordered) * hold_out), 1) if ordered else 0
    return ordered[:len(ordered) - held], ordered[len(ordered) - held:]


def draw_weights(rows: list[dict[str, Any]], sample_rate: float) -> np.ndarray:
    """How many ads of the stream each decided ad stands for: a flag itself, a sample
    ``1 / sample_rate`` unflagged ads: the rate it was drawn at when the example carries one
    (``sample_rate``, as the store records it), else ``sample_rate``."""
    return np.array([1.0 / (r.get("sample_rate") or sample_rate) if r["sample"] else 1.0
                     for r in rows])


def weighted_threshold(y: np.ndarray, scores: np.ndarray, weights: np.ndarray,
                       target_recall: float) -> float:
    """The highest cut whose weighted recall is still >= ``target_recall``."""
    _, recall, thresholds = precision_recall_curve(y, scores, sample_weight=weights)
    ok = [t for r, t in zip(recall[:-1], thresholds, strict=True) if r >= target_recall]
    return float(max(ok)) if ok else 0.5


def fit(rows: list[dict[str, Any]], weights: np.ndarray, threshold: float) -> Classifier:
    model = Classifier(build_pipeline(), build_category_model(), threshold)
    return model.fit([r["text"] for r in rows], np.array([r["label"] for r in rows]),
                     [r["category"] for r in rows], sample_weight=weights)


def figures(model: Classifier, rows: list[dict[str, Any]],
            weights: np.ndarray | None = None) -> dict[str, Any]:
    """Precision, recall, F1 and n of ``model`` at its threshold on ``rows`` (and the same
    weighted by how the ads were drawn, when ``weights`` is given)."""
    if not rows:
        return {"n": 0}
    gold = np.array([r["label"] for r in rows])
    flagged = model.predict([r["text"] for r in rows])
    out = metrics(gold, flagged)
    if weights is not None:
        from sklearn.metrics import precision_recall_fscore_support

        p, r, f, _ = precision_recall_fscore_support(gold, flagged, average="binary",
                                                     sample_weight=weights, zero_division=0)
        out["weighted_by_draw"] = {"precision": round(float(p), 4), "recall": round(float(r), 4),
                                   "f1": round(float(f), 4)}
    return out


def read_labeled(path: Path) -> list[dict[str, Any]]:
    """A labeled JSONL file as ``tutorwatch evaluate --data`` reads it ({text, label})."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]
    return [r for r in rows if isinstance(r, dict) and r.get("label") in (0, 1) and "text" in r]


def save_atomically(model: Classifier, out_path: Path, metadata: dict[str, Any]) -> None:
    """Write the model, its trusted-types list and its sidecar into a temporary folder next to
    ``out_path``, then move them into place, the model last: a crash leaves no model without
    its sidecar (a sidecar without its model is refused by every reader)."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".candidate-", dir=out_path.parent))
    try:
        staged = scratch / out_path.name
        model.save(staged, metadata)
        for suffix in (".trusted.json", ".json"):
            os.replace(staged.with_suffix(suffix), out_path.with_suffix(suffix))
        os.replace(staged, out_path)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def train_with_decisions(
    decisions: Iterable[dict[str, Any]],
    current: Classifier,
    out_path: Path,
    *,
    data_dir: Path = DATA_DIR,
    weight: float | None = DEFAULT_WEIGHT,
    sample_rate: float = DEFAULT_SAMPLE_RATE,
    real_world: Path | None = REAL_WORLD,
    corpus_splits: tuple[str, ...] = ("train", "dev"),
    source: str = "",
    progress: Callable[[str], Any] | None = None,
    trained_by: str = "",
) -> Classifier:
    """Fit a candidate on the corpus and the decisions, save it atomically at ``out_path`` with
    a sidecar comparing it with ``current``, and return it. Raises :class:`DecisionsError` when
    there is no decision to learn from (nothing is written)."""
    step = progress or (lambda message: None)
    decisions = list(decisions)
    fitted_on, held_out = split_by_time(decisions)
    if not fitted_on:
        raise DecisionsError(
            "no decisions to train on" if not decisions else
            f"only {len(decisions)} decision(s): one is held out as the check, none is left "
            "to train on")
    if not 0 < sample_rate <= 1:
        raise DecisionsError(f"sample rate must be above 0 and at most 1, not {sample_rate}")
    if weight is not None and weight <= 0:
        raise DecisionsError(f"weight must be above 0, not {weight}")

    step("reading the corpus")
    corpus = [row for split in corpus_splits for row in load_split(split, data_dir)]
    test_rows = load_split("test", data_dir)
    rows = corpus + fitted_on
    weight = decision_weight(len(corpus), len(fitted_on)) if weight is None else float(weight)
    weights = np.concatenate([np.ones(len(corpus)), np.full(len(fitted_on), float(weight))])

    positives = sum(r["label"] for r in fitted_on)
    corpus_rule = (current.metadata or {}).get("threshold_rule", "the corpus rule")
    threshold, rule = current.threshold, (
        f"the corpus rule: too few decisions to choose on ({len(fitted_on)} fitted on, "
        f"{positives} violations; needs {MIN_THRESHOLD_DECISIONS} and "
        f"{MIN_THRESHOLD_POSITIVES}), so the current model's threshold, chosen by {corpus_rule}")
    if len(fitted_on) >= MIN_THRESHOLD_DECISIONS and positives >= MIN_THRESHOLD_POSITIVES:
        step("choosing the threshold on decided real posts (2 folds)")
        scores = np.zeros(len(fitted_on))
        halves = [fitted_on[0::2], fitted_on[1::2]]
        for i, half in enumerate(halves):
            other = halves[1 - i]
            fold = fit(corpus + other, np.concatenate(
                [np.ones(len(corpus)), np.full(len(other), float(weight))]), 0.5)
            scores[i::2] = fold.scores([r["text"] for r in half])
        threshold = weighted_threshold(np.array([r["label"] for r in fitted_on]), scores,
                                       draw_weights(fitted_on, sample_rate), THRESHOLD_RECALL)
        rule = (f"highest cut with recall >= {THRESHOLD_RECALL} on out-of-fold scores (2 folds) "
                f"of the {len(fitted_on)} decisions fitted on, samples weighted 1/{sample_rate}")

    step(f"fitting the candidate on {' + '.join(corpus_splits)} and {len(fitted_on)} decisions")
    candidate = fit(rows, weights, threshold)

    step("measuring the candidate and the current model")
    compared: dict[str, dict[str, Any]] = {}
    data = {"test": (test_rows, None),
            "held_out_decisions": (held_out, draw_weights(held_out, sample_rate))}
    if real_world is not None and Path(real_world).is_file():
        data["real_world"] = (read_labeled(Path(real_world)), None)
    for name, (measured, draw) in data.items():
        compared[name] = {"candidate": figures(candidate, measured, draw),
                          "current": figures(current, measured, draw)}

    trained_at = datetime.now(UTC)
    digest = data_hash([data_dir / f"{n}.jsonl" for n in corpus_splits])
    version = f"tutorwatch-candidate-{trained_at:%Y%m%d%H%M%S}-{digest[:8]}"
    metadata = {
        **{k: v for k, v in (current.metadata or {}).items()
           if k in ("libraries", "target_recall")},
        "trained_at": trained_at.isoformat(timespec="seconds"),
        **({"trained_by": trained_by} if trained_by else {}),
        "candidate": True,
        "data_sha256": digest,
        "fitted_on": list(corpus_splits),
        "examples": {split: len(load_split(split, data_dir)) for split in corpus_splits}
        | {"test": len(test_rows)},
        "decisions": {
            "source": source, "total": len(decisions), "used": len(fitted_on),
            "held_out": len(held_out), "weight": float(weight), "sample_rate": sample_rate,
            "used_violations": positives, "used_samples": sum(r["sample"] for r in fitted_on),
            "held_out_from": held_out[0]["decided_at"].isoformat() if held_out else None,
            "sha256": decisions_digest(decisions),
        },
        "threshold_rule": rule,
        "current_model": {"version": current.version, "threshold": current.threshold},
        "compared": compared,
        "metrics": {"test": compared["test"]["candidate"]},
    }
    candidate.set_params(version=version, metadata=metadata)
    step(f"saving {out_path}")
    save_atomically(candidate, Path(out_path), metadata)
    return candidate
