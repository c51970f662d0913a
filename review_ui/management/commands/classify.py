"""``tutorwatch classify IN.jsonl -o OUT.jsonl [--model PATH]``.

Reads lines ``{"id": ..., "text": ...}`` and writes, in the same order,
``{"id", "score", "label", "category", "evidence", "model_version"}``. ``-`` reads stdin /
writes stdout.
The model is ``--model``, else the version promoted in the store (``tutorwatch model``), else
the shipped one.
"""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

BATCH = 256


class Command(BaseCommand):
    help = "Score ads given as JSON lines with the classifier."
    # Scoring needs no URLconf, admin or template checks: Django's system checks import every
    # view (Django REST framework, drf-spectacular), 0.4 s of import time by ``-X importtime``
    # (docs/benchmarks.md, issue 22). ``tutorwatch check`` runs them.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("input", help="JSONL file of {id, text}, or - for stdin")
        parser.add_argument("-o", "--output", default="-", help="output JSONL file, or - (default)")
        parser.add_argument("--model", default=None,
                            help="model file (default: the promoted version, else the shipped one)")

    def handle(self, *args: Any, **options: Any) -> None:
        from classifier import ModelLoadError, load_model
        from review_ui.model_registry import current_model_path

        path = options["model"]
        if not path:
            try:
                path = current_model_path()
            except DatabaseError as exc:  # no store here: score offline with the shipped model
                self.stderr.write(f"no store to ask for the promoted model ({exc}): "
                                  "using the shipped model")
        try:
            model = load_model(path)
        except ModelLoadError as exc:
            raise CommandError(str(exc)) from None
        with ExitStack() as stack:
            if options["input"] == "-":
                source = sys.stdin
            else:
                try:
                    source = stack.enter_context(open(options["input"], encoding="utf-8"))
                except OSError as exc:
                    raise CommandError(f"cannot read {options['input']}: {exc}") from None
            sink = sys.stdout if options["output"] == "-" else stack.enter_context(
                open(options["output"], "w", encoding="utf-8")
            )
            batch: list[tuple[Any, str]] = []
            for number, line in enumerate(source, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError as exc:
                    raise CommandError(f"{options['input']}:{number}: not JSON: {exc}") from None
                if not isinstance(row, dict) or "text" not in row:
                    raise CommandError(
                        f"{options['input']}:{number}: expected {{\"id\", \"text\"}}"
                    )
                text = row["text"] if isinstance(row["text"], str) else json.dumps(row["text"])
                batch.append((row.get("id"), text))
                if len(batch) >= BATCH:
                    self._flush(model, batch, sink)
            self._flush(model, batch, sink)

    @staticmethod
    def _flush(model: Any, batch: list[tuple[Any, str]], sink: Any) -> None:
        if not batch:
            return
        for (row_id, _), verdict in zip(batch, model.classify([t for _, t in batch]), strict=True):
            out = {"id": row_id, "score": verdict.score, "label": verdict.label,
                   "category": verdict.category, "evidence": verdict.evidence,
                   "model_version": verdict.model_version}
            sink.write(json.dumps(out, ensure_ascii=False) + "\n")
        batch.clear()
