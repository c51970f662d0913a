"""``tutorwatch purge [--dry-run] [--days N]``: purge the stored page, text and contacts of the ads
nobody flagged, sampled or decided, first stored more than ``TUTORWATCH_RETAIN_UNFLAGGED_DAYS``
days ago (review_ui.retention). Each batch is audited (``ads.purged``); ``--dry-run`` only counts.
``tutorwatch schedule`` runs it daily (``--scheduled``: audited as by the scheduler).

Exit status: 0 done (or nothing to do); 2 when the retention period is off (0 days) and no
``--days`` is given.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Purge the content of unflagged ads older than the retention period."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--dry-run", action="store_true",
                            help="count what would be purged; change nothing")
        parser.add_argument("--days", type=int, default=None, metavar="N",
                            help="retention period in days (default: "
                                 "TUTORWATCH_RETAIN_UNFLAGGED_DAYS)")
        parser.add_argument("--scheduled", action="store_true", help="run by the scheduler")

    def handle(self, *args: Any, **options: Any) -> None:
        from review_ui.retention import purge, retain_days

        days = options["days"] if options["days"] is not None else retain_days()
        if days < 1:
            if options["scheduled"]:
                self.stdout.write("retention is off (TUTORWATCH_RETAIN_UNFLAGGED_DAYS=0): "
                                  "nothing purged")
                return
            raise CommandError("the retention period is off (TUTORWATCH_RETAIN_UNFLAGGED_DAYS=0);"
                               " give --days N (at least 1) to purge anyway", returncode=2)
        report = purge(days, dry_run=options["dry_run"],
                       by="scheduler" if options["scheduled"] else "command")
        verb = "would purge" if options["dry_run"] else "purged"
        self.stdout.write(
            f"{verb} the page, text and contacts of {report.ads} ads never flagged, sampled or "
            f"decided, first stored before {report.cutoff:%Y-%m-%d %H:%M %Z} ({days} days): "
            f"{report.versions} earlier versions, {report.contacts} contact index rows")
        if report.ads and not options["dry_run"]:
            self.stdout.write("recorded in the audit log (ads.purged)")
