"""The labeled corpus: reading, checking, and the fixed stratified train / dev / test split.

Examples follow ../shared/LABELING.md. The split files are ``data/train.jsonl``, ``dev.jsonl``
and ``test.jsonl``; ``python -m classifier.corpus PARTS... `` rebuilds them from authored part
files (each example lands in a split decided by its (label, category) group and a hash of its
id, so the split is reproducible). ``python -m classifier.corpus --add PARTS...`` adds a new
batch: the batch is split by the same rule among its own examples, and every example already
in the corpus stays in its split. The test split is never used for training or tuning.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from classifier.model import NEGATIVE_CATEGORIES, POSITIVE_CATEGORIES
from classifier.registers import SOURCE_TYPES

DATA_DIR = Path(__file__).resolve().parent / "data"
SPLITS = ("train", "dev", "test")
FIELDS = ("id", "text", "label", "category", "source_type", "hard", "note")
# Optional: the template family of the example's register (one job board's card, another's).
OPTIONAL_FIELDS = ("layout",)


class CorpusError(ValueError):
    pass


def check_example(row: Any, where: str) -> dict[str, Any]:
    if not isinstance(row, dict):
        raise CorpusError(f"{where}: not a JSON object")
    for key in ("id", "text", "label", "category", "source_type"):
        if key not in row:
            raise CorpusError(f"{where}: missing key {key!r}")
    if row["label"] not in (0, 1):
        raise CorpusError(f"{where}: label must be 0 or 1")
    allowed = POSITIVE_CATEGORIES if row["label"] == 1 else NEGATIVE_CATEGORIES
    if row["category"] not in allowed:
        raise CorpusError(
            f"{where}: category {row['category']!r} does not fit label {row['label']}"
        )
    if row["source_type"] not in SOURCE_TYPES:
        raise CorpusError(f"{where}: unknown source_type {row['source_type']!r}")
    if not isinstance(row["text"], str) or not row["text"].strip():
        raise CorpusError(f"{where}: empty text")
    if "layout" in row and (not isinstance(row["layout"], str) or not row["layout"].strip()):
        raise CorpusError(f"{where}: layout must be a non-empty string")
    checked = {key: row.get(key, False if key == "hard" else "") for key in FIELDS}
    checked.update((key, row[key]) for key in OPTIONAL_FIELDS if key in row)
    return checked


def read_jsonl(path: Path, check: Callable[[Any, str], dict[str, Any]] = check_example,
               error: type[Exception] = CorpusError) -> list[dict[str, Any]]:
    """The rows of a JSONL file, each passed through ``check(row, "path:line")``; a line that is
    not JSON raises ``error`` naming it."""
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise error(f"{path}:{number}: not JSON: {exc}") from None
            rows.append(check(row, f"{path}:{number}"))
    return rows


def load_split(name: str, data_dir: Path = DATA_DIR) -> list[dict[str, Any]]:
    if name not in SPLITS:
        raise CorpusError(f"unknown split {name!r} (one of {', '.join(SPLITS)})")
    return read_jsonl(data_dir / f"{name}.jsonl")


def data_hash(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _rank(example_id: str) -> str:
    return hashlib.sha256(example_id.encode()).hexdigest()


def split_examples(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """70 / 15 / 15 within every (label, category) group, ordered by a hash of the id."""
    seen: set[str] = set()
    groups: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row["id"] in seen:
            raise CorpusError(f"duplicate id {row['id']!r}")
        seen.add(row["id"])
        groups[(row["label"], row["category"])].append(row)
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in SPLITS}
    for key in sorted(groups):
        members = sorted(groups[key], key=lambda r: _rank(r["id"]))
        n = len(members)
        n_test = max(1, round(n * 0.15)) if n >= 3 else 0
        n_dev = max(1, round(n * 0.15)) if n >= 3 else 0
        out["test"].extend(members[:n_test])
        out["dev"].extend(members[n_test:n_test + n_dev])
        out["train"].extend(members[n_test + n_dev:])
    for name in SPLITS:
        out[name].sort(key=lambda r: r["id"])
    return out


def _write(splits: dict[str, list[dict[str, Any]]], data_dir: Path) -> None:
    for name, members in splits.items():
        with open(data_dir / f"{name}.jsonl", "w", encoding="utf-8") as handle:
            for row in members:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_splits(rows: list[dict[str, Any]], data_dir: Path = DATA_DIR) -> dict[str, int]:
    splits = split_examples(rows)
    _write(splits, data_dir)
    return {name: len(members) for name, members in splits.items()}


def add_to_splits(new: list[dict[str, Any]], data_dir: Path = DATA_DIR) -> dict[str, int]:
    """Add a batch of new examples: split among themselves by :func:`split_examples`' rule,
    while every example already in ``data_dir`` keeps its split (the test split stays test).
    Returns how many new examples went to each split."""
    current = {name: load_split(name, data_dir) for name in SPLITS}
    known = {row["id"] for members in current.values() for row in members}
    clash = sorted(known & {row["id"] for row in new})
    if clash:
        raise CorpusError(f"already in the corpus: {', '.join(map(repr, clash[:5]))}")
    added = split_examples(new)
    _write({name: sorted(current[name] + added[name], key=lambda r: r["id"])
            for name in SPLITS}, data_dir)
    return {name: len(members) for name, members in added.items()}


def main(argv: list[str]) -> int:
    add = argv[:1] == ["--add"]
    rows: list[dict[str, Any]] = []
    for part in argv[1:] if add else argv:
        rows.extend(read_jsonl(Path(part)))
    print(add_to_splits(rows) if add else write_splits(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
