"""``tutorwatch dataset export -o FILE.jsonl``: officers' decisions as labeled examples.

One JSON object a line in the corpus format (classifier/data/README.md), so bureaus can pool
their decisions and training can read them; review_ui/decisions_dataset.py says which decisions
count and how each becomes an example."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from review_ui.decisions_dataset import write_jsonl


class Command(BaseCommand):
    help = "Export officers' decisions as labeled examples (JSONL, the corpus format)."

    def add_arguments(self, parser: Any) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="export")
        export = actions.add_parser(
            "export", help="write every standing decision as a labeled example",
        )
        export.add_argument("-o", "--output", required=True, help="JSONL file to write, or -")

    def handle(self, *args: Any, **options: Any) -> None:
        output = options["output"]
        if output == "-":
            tally = write_jsonl(sys.stdout)
            sys.stdout.flush()
        else:
            tally = self._write_file(Path(output))
        left_out = ", ".join(f"{why} {n}" for why, n in sorted(tally.left_out.items()))
        self.stderr.write(
            f"exported {tally.written} decisions ({tally.by_label[1]} violations, "
            f"{tally.by_label[0]} dismissals) to {output}"
            + (f"; left out: {left_out}" if left_out else "")
            + (f"; {tally.shortened} shortened to the classifier's limit" if tally.shortened
               else "")
        )

    @staticmethod
    def _write_file(path: Path):
        """Write beside the target and rename, so a failed export leaves no half file."""
        try:
            handle = tempfile.NamedTemporaryFile(
                "w", encoding="utf-8", dir=path.parent or Path("."), prefix=f".{path.name}.",
                delete=False,
            )
        except OSError as exc:
            raise CommandError(f"cannot write {path}: {exc}") from None
        try:
            with handle:
                tally = write_jsonl(handle)
            os.replace(handle.name, path)
        except BaseException:
            Path(handle.name).unlink(missing_ok=True)
            raise
        return tally
