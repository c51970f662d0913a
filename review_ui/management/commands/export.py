"""``tutorwatch export --format jsonl|csv|xlsx [-o FILE|-]``: every stored ad with its verdict
and review status (fields: url, source, title, text, posted_at, contacts, score, flagged,
status; CSV and XLSX split contacts into phones and wechat_ids and add category, fetched_at and
raw_sha256)."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from review_ui.exports import WRITERS


class Command(BaseCommand):
    help = "Export every stored ad as JSONL, CSV or XLSX."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--format", choices=sorted(WRITERS), default="jsonl")
        parser.add_argument("-o", "--output", default="-", help="output file, or - for stdout")

    def handle(self, *args: Any, **options: Any) -> None:
        writer = WRITERS[options["format"]]
        if options["output"] == "-":
            sys.stdout.flush()
            count = writer(sys.stdout.buffer)
            sys.stdout.buffer.flush()
        else:
            try:
                with open(options["output"], "wb") as handle:
                    count = writer(handle)
            except OSError as exc:
                raise CommandError(f"cannot write {options['output']}: {exc}") from None
            self.stderr.write(f"exported {count} ads to {options['output']}")
