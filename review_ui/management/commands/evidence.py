"""``tutorwatch evidence CASE -o FILE.pdf [--data FILE.json]``: the evidence sheet of a case
(``review_ui.evidence``), CASE being its number (TW2026-00012) or id. ``--data`` also writes the
canonical JSON whose SHA-256 is the data hash printed on every page. The export is an audit row
with the PDF's SHA-256; the command prints the path, the page count and both hashes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import pgettext

from review_ui import evidence


def _cannot_write(path: str, why: str) -> CommandError:
    with translation.override(evidence.SHEET_LANGUAGE):
        return CommandError(pgettext("evidence", "Cannot write %(path)s: %(why)s")
                            % {"path": path, "why": why})


def _write(path: str, content: bytes) -> None:
    """Write ``content`` whole or not at all: a file half-written would look like evidence."""
    target = Path(path)
    partial = target.with_name(f".{target.name}.partial")
    try:
        partial.write_bytes(content)
        os.replace(partial, target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise _cannot_write(path, exc.strerror or str(exc)) from None


class Command(BaseCommand):
    help = "Write the evidence sheet (PDF) of a case."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("case", help="case number (TW2026-00012) or id")
        parser.add_argument("-o", "--output", required=True, help="the PDF file to write")
        parser.add_argument("--data", help="also write the canonical JSON the data hash covers")

    def handle(self, *args: Any, **options: Any) -> None:
        for path in filter(None, [options["output"], options["data"]]):
            if not Path(path).parent.resolve().is_dir():
                with translation.override(evidence.SHEET_LANGUAGE):
                    raise _cannot_write(path, pgettext("evidence", "the folder does not exist"))
        try:
            case = evidence.find_case(options["case"])
            sheet = evidence.build(case, via="cli")
        except evidence.EvidenceError as exc:
            raise CommandError(str(exc)) from None
        _write(options["output"], sheet.pdf)
        if options["data"]:
            _write(options["data"], evidence.canonical(sheet.data))
        self.stdout.write(f"{options['output']}: {case.number}, {len(sheet.data['ads'])} ads, "
                          f"{sheet.pages} pages\n"
                          f"data SHA-256 {sheet.data_sha256}\npdf SHA-256  {sheet.pdf_sha256}")
