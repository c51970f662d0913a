"""``tutorwatch capture [--limit N] [--rate R] [--timeout S]``: screenshots of flagged ads that
are still missing.

Each flagged ad that never had a capture gets one requested (trigger ``catch_up``); then the
pending captures, and the failed ones with a try left, are taken oldest first by this process
(``review_ui.capture``), at most ``--rate`` a minute (``TUTORWATCH_CAPTURE_RATE``), each within
``--timeout`` seconds (``TUTORWATCH_CAPTURE_TIMEOUT``), ``--limit`` of them at most. The last
line counts what was done and what is left.

When another capture worker holds the store's capture lock (a crawl's), the requests are left
to it, which says so and exits 0. ``--with-crawl`` is how a crawl starts its worker
(``crawler.extensions.capture``): no catch-up, it runs at a lower priority beside the crawl, and
stops once the crawl has closed its standard input and nothing is due.

Exit status: 0, also when captures failed (each is recorded with its reason); 2 for a bad value.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


class Command(BaseCommand):
    help = "Capture the screenshots of flagged ads still missing."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--limit", type=_positive, default=None,
                            help="capture at most this many (default: all that are due)")
        parser.add_argument("--rate", type=float, default=None,
                            help="captures per minute at most (TUTORWATCH_CAPTURE_RATE; 0: "
                                 "no limit)")
        parser.add_argument("--timeout", type=float, default=None,
                            help="seconds per capture (TUTORWATCH_CAPTURE_TIMEOUT)")
        parser.add_argument("--with-crawl", action="store_true",
                            help="started by a crawl: run until it closes standard input")

    def handle(self, *args: Any, **options: Any) -> None:
        from review_ui import capture

        for name in ("rate", "timeout"):
            value = options[name]
            if value is not None and (value != value or value < 0 or (
                    name == "timeout" and value < 1)):
                raise CommandError(f"--{name}: {value} is out of range", returncode=2)
        try:
            worker = capture.options_from_settings(
                rate=options["rate"], timeout=options["timeout"], limit=options["limit"])
        except (ImproperlyConfigured, ValueError) as exc:
            raise CommandError(str(exc), returncode=2) from None
        with_crawl = options["with_crawl"]
        if with_crawl:
            os.nice(10)  # the crawl comes first (the crawl set 19 already); the browser inherits it
            worker.crawl_over = capture.stdin_watch()
            self.stdout.write(f"capture worker {os.getpid()} beside a crawl")
        else:
            worker.wait = False
            requested = capture.request_catch_up()
            self.stdout.write(f"requested {requested} capture(s) of flagged ads never captured")
        if not worker.chromium:
            raise CommandError("no Chromium found: set TUTORWATCH_CHROMIUM (the captures stay "
                               "pending)")
        tally = capture.run(worker)
        if tally.interrupted:
            self.stdout.write(f"{tally.interrupted} capture(s) left by a stopped worker "
                              "counted as failed")
        if tally.waited and not with_crawl:
            self.stdout.write("another capture worker is running: it takes the pending ones")
        self.stdout.write(tally.line())
