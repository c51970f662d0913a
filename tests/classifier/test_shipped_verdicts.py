"""The shipped model's verdict on every corpus text stays what it was when the reference file
was written: the probability within 1e-12, the same score, label, category and evidence.

The reference (``shipped_verdicts.jsonl``) pins what the code computes with the shipped model,
so a change to how scores are computed (a library call instead of a copy, a faster path) cannot
change a verdict unnoticed. After retraining the model on purpose, write it again:

    python -m tests.classifier.test_shipped_verdicts
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from classifier import load_model
from classifier.corpus import SPLITS, load_split
from classifier.model import Classifier

REFERENCE = Path(__file__).resolve().parent / "shipped_verdicts.jsonl"
BATCH = 100  # as a crawl's pipeline worker scores at most


def _digest(evidence: list[dict[str, Any]]) -> str:
    """A short fingerprint of the evidence spans (the whole list would make the file 2 MB)."""
    text = json.dumps(evidence, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def verdict_rows(model: Classifier) -> list[dict[str, Any]]:
    rows = [row for split in SPLITS for row in load_split(split)]
    texts = [row["text"] for row in rows]
    out = []
    for start in range(0, len(texts), BATCH):
        batch, ids = texts[start:start + BATCH], rows[start:start + BATCH]
        probabilities = model.scores(batch)
        for row, probability, verdict in zip(ids, probabilities, model.classify(batch),
                                             strict=True):
            out.append({"id": row["id"], "probability": float(probability),
                        "score": verdict.score, "label": verdict.label,
                        "category": verdict.category, "evidence": _digest(verdict.evidence)})
    return out


def _read_reference() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    lines = REFERENCE.read_text(encoding="utf-8").splitlines()
    return json.loads(lines[0]), [json.loads(line) for line in lines[1:]]


def test_every_corpus_text_gets_the_verdict_the_reference_pins():
    model = load_model()
    header, expected = _read_reference()
    if header["model_version"] != model.version:
        pytest.fail(f"the reference was written with model {header['model_version']}, the "
                    f"shipped model is {model.version}: after retraining on purpose, write it "
                    "again with `python -m tests.classifier.test_shipped_verdicts`")
    actual = verdict_rows(model)
    assert [row["id"] for row in actual] == [row["id"] for row in expected]
    far = [(a["id"], a["probability"], e["probability"]) for a, e in
           zip(actual, expected, strict=True) if abs(a["probability"] - e["probability"]) > 1e-12]
    assert far == [], f"{len(far)} probabilities moved by more than 1e-12: {far[:5]}"
    keys = ("score", "label", "category", "evidence")
    changed = [(a["id"], key, a[key], e[key]) for a, e in zip(actual, expected, strict=True)
               for key in keys if a[key] != e[key]]
    assert changed == [], f"{len(changed)} verdicts changed: {changed[:5]}"


def main() -> None:
    model = load_model()
    rows = verdict_rows(model)
    with open(REFERENCE, "w", encoding="utf-8") as handle:
        handle.write(json.dumps({"model_version": model.version, "texts": len(rows)}) + "\n")
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {REFERENCE} ({len(rows)} verdicts of model {model.version})")


if __name__ == "__main__":
    main()
