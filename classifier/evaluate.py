"""Evaluation: precision / recall / F1 overall, per category and per source_type, recall on the
hard positives, the confusion of categories, a precision-recall curve, and the same figures for
two baselines on the same data: the character-n-gram model of ``classifier.baseline`` (fitted on
the same splits as the model) and a plain keyword list.

Leave-one-register-out figures (``--loro``) are ``classifier.loro``'s."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import precision_recall_curve

from classifier import baseline as char_baseline
from classifier.keywords import keyword_label
from classifier.model import Classifier


def prf(gold: list[int], pred: list[int]) -> dict[str, float]:
    tp = sum(1 for g, p in zip(gold, pred, strict=True) if g and p)
    fp = sum(1 for g, p in zip(gold, pred, strict=True) if not g and p)
    fn = sum(1 for g, p in zip(gold, pred, strict=True) if g and not p)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "n": len(gold), "positives": sum(gold), "flagged": sum(pred)}


def _grouped(rows: list[dict], pred: list[int], key: str) -> dict[str, dict[str, float]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        groups[str(row.get(key) or "?")].append(i)
    out = {}
    for name, members in sorted(groups.items()):
        gold = [rows[i]["label"] for i in members]
        flagged = [pred[i] for i in members]
        figures = prf(gold, flagged)
        figures["flagged_share"] = round(sum(flagged) / len(flagged), 4)
        out[name] = figures
    return out


def report(rows: list[dict[str, Any]], labels: list[int], scores: list[float] | None,
           categories: list[str] | None) -> dict[str, Any]:
    gold = [int(r["label"]) for r in rows]
    result: dict[str, Any] = {
        "overall": prf(gold, labels),
        "per_category": _grouped(rows, labels, "category"),
        "per_source_type": _grouped(rows, labels, "source_type"),
    }
    hard = [i for i, r in enumerate(rows) if r["label"] == 1 and r.get("hard")]
    if hard:
        result["hard_positive_recall"] = round(sum(labels[i] for i in hard) / len(hard), 4)
        result["hard_positives"] = len(hard)
    hard_neg = [i for i, r in enumerate(rows) if r["label"] == 0 and r.get("hard")]
    if hard_neg:
        result["hard_negative_false_flag_rate"] = round(
            sum(labels[i] for i in hard_neg) / len(hard_neg), 4
        )
    if categories is not None:
        confusion: dict[str, Counter] = defaultdict(Counter)
        for row, predicted, label in zip(rows, categories, labels, strict=True):
            if row["label"] == 1 and label == 1:
                confusion[row["category"]][predicted] += 1
        total = sum(sum(c.values()) for c in confusion.values())
        right = sum(c[name] for name, c in confusion.items())
        result["category_confusion"] = {k: dict(v) for k, v in sorted(confusion.items())}
        result["category_accuracy_on_caught_positives"] = round(right / total, 4) if total else 0.0
    if scores is not None:
        result["scores"] = scores
    return result


def evaluate(model: Classifier, rows: list[dict[str, Any]],
             baseline: Any | None = None) -> dict[str, Any]:
    """The model's figures on ``rows`` beside the keyword list's and, given a fitted
    ``baseline`` (:func:`classifier.baseline.fit_on_splits`), the char-n-gram baseline's."""
    texts = [r["text"] for r in rows]
    verdicts = model.classify(texts, evidence_spans=0)
    labels = [v.label for v in verdicts]
    scores = [v.score for v in verdicts]
    result = {
        "model": report(rows, labels, scores, [v.category for v in verdicts]),
        "keywords": report(rows, [keyword_label(t) for t in texts], None, None),
        "threshold": model.threshold, "model_version": model.version,
    }
    if baseline is not None:
        result["baseline"] = report(rows, char_baseline.baseline_labels(baseline, texts),
                                    None, None)
    return result


def plot_pr_curve(rows: list[dict[str, Any]], scores: list[float], threshold: float,
                  baseline: dict[str, float], path: Path, title: str,
                  char_ngrams: dict[str, float] | None = None) -> Path:
    """The model's precision-recall curve with its threshold marked, and the keyword list's
    (``baseline``) and the char-n-gram baseline's operating points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    gold = np.array([r["label"] for r in rows])
    precision, recall, thresholds = precision_recall_curve(gold, np.array(scores))
    figure, axes = plt.subplots(figsize=(6, 5), dpi=100)
    axes.plot(recall, precision, label="tutorwatch")
    at = int(np.searchsorted(thresholds, threshold)) if len(thresholds) else 0
    at = min(at, len(recall) - 1)
    axes.scatter([recall[at]], [precision[at]], color="C3", zorder=3,
                 label=f"threshold {threshold:.2f}")
    axes.scatter([baseline["recall"]], [baseline["precision"]], marker="s", color="C1", zorder=3,
                 label="keyword list")
    if char_ngrams is not None:
        axes.scatter([char_ngrams["recall"]], [char_ngrams["precision"]], marker="^", color="C2",
                     zorder=3, label=char_baseline.NAME)
    axes.set_xlabel("recall")
    axes.set_ylabel("precision")
    axes.set_xlim(0, 1.02)
    axes.set_ylim(0, 1.02)
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower left")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def format_report(result: dict[str, Any]) -> str:
    ours, base = result["model"], result["keywords"]
    chars = result.get("baseline")
    lines = [f"model {result['model_version']}, threshold {result['threshold']:.3f}", ""]
    lines.append(f"{'':24}{'precision':>10}{'recall':>8}{'F1':>8}{'n':>7}")
    rows = [("tutorwatch", ours["overall"])]
    if chars is not None:
        rows.append((char_baseline.NAME, chars["overall"]))
    rows.append(("keyword list", base["overall"]))
    for name, figures in rows:
        lines.append(f"{name:24}{figures['precision']:>10.3f}{figures['recall']:>8.3f}"
                     f"{figures['f1']:>8.3f}{figures['n']:>7}")
    if chars is not None:
        lines.append(f"F1 above the char n-gram baseline: "
                     f"{ours['overall']['f1'] - chars['overall']['f1']:+.3f}")
    lines.append(f"F1 above the keyword list: {ours['overall']['f1'] - base['overall']['f1']:+.3f}")
    if "hard_positive_recall" in ours:
        lines.append(f"recall on hard positives: {ours['hard_positive_recall']:.3f} "
                     f"(keyword list {base['hard_positive_recall']:.3f}; "
                     f"n={ours['hard_positives']})")
    if "hard_negative_false_flag_rate" in ours:
        lines.append(f"hard negatives flagged: {ours['hard_negative_false_flag_rate']:.3f} "
                     f"(keyword list {base['hard_negative_false_flag_rate']:.3f})")
    if chars is not None and "hard_positive_recall" in ours:
        lines.append(f"char n-gram baseline: recall on hard positives "
                     f"{chars['hard_positive_recall']:.3f}"
                     + (f", hard negatives flagged {chars['hard_negative_false_flag_rate']:.3f}"
                        if "hard_negative_false_flag_rate" in chars else ""))
    others = ([("char n-gram", chars)] if chars is not None else []) + [("keyword list", base)]
    for key, title in (("per_category", "category"), ("per_source_type", "source_type")):
        header = "".join(f"{name + ' F1':>16}" for name, _ in others)
        lines += ["", f"{title:24}{'n':>5}{'flagged':>9}{'P':>7}{'R':>7}{'F1':>7}{header}"]
        for name, figures in ours[key].items():
            if figures["positives"]:
                cells = (f"{figures['precision']:>7.2f}{figures['recall']:>7.2f}"
                         f"{figures['f1']:>7.2f}")
                other_cells = "".join(f"{other[key][name]['f1']:>16.2f}" for _, other in others)
            else:  # a group of negatives: only the share wrongly flagged means anything
                cells = f"{'—':>7}{'—':>7}{'—':>7}"
                other_cells = "".join(
                    f"{'flagged ' + format(other[key][name]['flagged_share'], '.2f'):>16}"
                    for _, other in others
                )
            lines.append(f"{name:24}{figures['n']:>5}{figures['flagged_share']:>9.2f}{cells}"
                         f"{other_cells}")
    if ours.get("category_confusion"):
        lines += ["", "categories of caught positives (true → predicted):"]
        for true, predicted in ours["category_confusion"].items():
            by_count = sorted(predicted.items(), key=lambda kv: -kv[1])
            cells = ", ".join(f"{k} {v}" for k, v in by_count)
            lines.append(f"  {true}: {cells}")
        lines.append(f"category accuracy on caught positives: "
                     f"{ours['category_accuracy_on_caught_positives']:.3f}")
    return "\n".join(lines)


def dump(result: dict[str, Any], path: Path) -> None:
    slim = json.loads(json.dumps(result))
    slim["model"].pop("scores", None)
    path.write_text(json.dumps(slim, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
