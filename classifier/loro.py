"""Leave-one-register-out evaluation: how the model does on a register it never saw.

A register is a ``source_type`` (job board, texted promotion, app-store description, …) or a
``layout`` family (one job board's card template, another's) where the examples name one
(``MIN_LAYOUT_EXAMPLES`` or more of them). For
each, the model is built as ``classifier.train`` builds it — threshold by the same rule on
out-of-fold scores (``LORO_FOLDS`` folds, fewer than training's five to keep a run short), then
fitted — on every train + dev example outside the register, and measured on the register's own
train + dev examples, beside the char-n-gram baseline fitted on the same examples and the
keyword list. The test split is never read.

    tutorwatch evaluate --loro [--register source_type=job ...] [--json FILE]
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.pipeline import Pipeline

from classifier import baseline as char_baseline
from classifier.evaluate import prf
from classifier.fields import field_dicts
from classifier.keywords import keyword_label
from classifier.model import build_pipeline
from classifier.normalize import normalize
from classifier.rules import NAMES as RULE_NAMES
from classifier.rules import rule_features
from classifier.tokenize import jieba_tokens
from classifier.train import THRESHOLD_RECALL, out_of_fold_threshold

REGISTER_KEYS = ("source_type", "layout")
LORO_FOLDS = 3
# A layout family with fewer train + dev examples is too small to measure on its own (it still
# counts within its source_type).
MIN_LAYOUT_EXAMPLES = 10


def registers(rows: Sequence[dict[str, Any]],
              min_layout: int = MIN_LAYOUT_EXAMPLES) -> list[tuple[str, str]]:
    """Every (key, value) register present in ``rows``: each source_type, and each layout
    family with at least ``min_layout`` examples."""
    counts = Counter((key, str(row[key])) for row in rows for key in REGISTER_KEYS
                     if row.get(key))
    found = [kv for kv, n in counts.items() if kv[0] == "source_type" or n >= min_layout]
    return sorted(found, key=lambda kv: (REGISTER_KEYS.index(kv[0]), kv[1]))


def parse_register(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or key not in REGISTER_KEYS or not value:
        raise ValueError(f"register {text!r}: expected source_type=VALUE or layout=VALUE")
    return key, value


def remembering_pipelines() -> Callable[[], Pipeline]:
    """A maker of the model's pipeline whose per-text steps (jieba tokens, rule rows, field
    dicts: nothing they compute depends on what is fitted) remember each text's result, shared
    by every pipeline it makes: a run fits the model about 4 times per register on mostly the
    same texts, and those steps are most of a fit's time. The fitted weights are the same."""
    tokens: dict[str, list[str]] = {}
    rules: dict[str, np.ndarray] = {}
    fields: dict[str, dict[str, float]] = {}

    def tokenize(text: str) -> list[str]:
        if text not in tokens:
            tokens[text] = jieba_tokens(text)
        return tokens[text]

    def rule_rows(texts: Sequence[str]) -> sparse.csr_matrix:
        texts = list(texts)
        missing = [t for t in dict.fromkeys(texts) if t not in rules]
        if missing:
            rules.update(zip(missing, rule_features(missing).toarray(), strict=True))
        return sparse.csr_matrix(np.vstack([rules[t] for t in texts]) if texts
                                 else np.zeros((0, len(RULE_NAMES))))

    def field_rows(texts: Sequence[str]) -> list[dict[str, float]]:
        texts = list(texts)
        missing = [t for t in dict.fromkeys(texts) if t not in fields]
        fields.update(zip(missing, field_dicts(missing), strict=True))
        return [fields[t] for t in texts]

    def build() -> Pipeline:
        pipeline = build_pipeline()
        parts = dict(pipeline.named_steps["features"].transformer_list)
        parts["word"].set_params(tokenizer=tokenize)
        parts["rules"].set_params(func=rule_rows)
        if "fields" in parts:
            parts["fields"].set_params(extract__func=field_rows)
        return pipeline

    return build


def leave_one_register_out(
    rows: Sequence[dict[str, Any]],
    only: Sequence[tuple[str, str]] | None = None,
    folds: int = LORO_FOLDS,
    progress: Callable[[str], Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """Per register, ``{"n", "positives", "threshold", "model", "baseline", "keywords"}`` with
    each system's :func:`classifier.evaluate.prf` on the held-out register."""
    step = progress or (lambda message: None)
    wanted = list(only) if only is not None else registers(rows)
    build = remembering_pipelines()
    out: dict[str, dict[str, Any]] = {}
    for key, value in wanted:
        held = [r for r in rows if str(r.get(key) or "") == value]
        rest = [r for r in rows if str(r.get(key) or "") != value]
        name = f"{key}={value}"
        y_rest = np.array([r["label"] for r in rest])
        if not held or len(set(y_rest.tolist())) < 2:
            step(f"{name}: skipped ({len(held)} held out, one class left to fit on)")
            continue
        step(f"{name}: fitting on {len(rest)}, testing on {len(held)}")
        x_rest = [normalize(r["text"]) for r in rest]
        threshold = out_of_fold_threshold(x_rest, y_rest, THRESHOLD_RECALL, folds=folds,
                                          build=build)
        flag = build().fit(x_rest, y_rest)
        scores = flag.predict_proba([normalize(r["text"]) for r in held])[:, 1]
        baseline = char_baseline.fit_baseline([r["text"] for r in rest], y_rest)
        gold = [int(r["label"]) for r in held]
        texts = [r["text"] for r in held]
        out[name] = {
            "n": len(held), "positives": sum(gold), "fitted_on": len(rest),
            "threshold": round(threshold, 6),
            "model": prf(gold, [int(s >= threshold) for s in scores]),
            "baseline": prf(gold, char_baseline.baseline_labels(baseline, texts)),
            "keywords": prf(gold, [keyword_label(t) for t in texts]),
        }
    return out


def format_loro(result: dict[str, dict[str, Any]]) -> str:
    lines = ["leave-one-register-out (fitted on train + dev without the register, "
             "measured on its train + dev examples)", "",
             f"{'register':34}{'n':>5}{'pos':>5}{'P':>7}{'R':>7}{'F1':>7}"
             f"{'char n-gram F1':>16}{'keywords F1':>13}{'vs keywords':>13}"]
    for name, figures in result.items():
        ours, chars, words = figures["model"], figures["baseline"], figures["keywords"]
        if figures["positives"]:
            lines.append(f"{name:34}{figures['n']:>5}{figures['positives']:>5}"
                         f"{ours['precision']:>7.3f}{ours['recall']:>7.3f}{ours['f1']:>7.3f}"
                         f"{chars['f1']:>16.3f}{words['f1']:>13.3f}"
                         f"{ours['f1'] - words['f1']:>+13.3f}")
        else:  # no positives: the share wrongly flagged is what there is to compare
            share = {k: f["flagged"] / f["n"] for k, f in
                     (("model", ours), ("baseline", chars), ("keywords", words))}
            lines.append(f"{name:34}{figures['n']:>5}{0:>5}{'flagged':>14}{share['model']:>7.3f}"
                         f"{'flagged ' + format(share['baseline'], '.3f'):>16}"
                         f"{'flagged ' + format(share['keywords'], '.3f'):>14}")
    return "\n".join(lines)
