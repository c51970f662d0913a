"""``tutorwatch restore FILE [--force]``: restore an archive written by ``tutorwatch backup`` into
the SQLite store and the data directory (review_ui.backup). Every member is checked against the
archive's manifest (SHA-256s) before anything changes; a store that is not empty (ads, audit
events, users or sources) is kept unless ``--force``. Stop the scheduler and the UI first, and
run ``tutorwatch migrate`` after restoring an older release's backup. The restore is audited
(``store.restored``).

Exit status: 0 restored; 1 the archive is damaged, not a backup, or the store is not empty.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection


class Command(BaseCommand):
    help = "Restore a tutorwatch backup archive into the store and the data directory."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("archive", metavar="FILE")
        parser.add_argument("--force", action="store_true",
                            help="replace a store that is not empty")

    def handle(self, *args: Any, **options: Any) -> None:
        from review_ui.backup import BackupError, restore_backup, sha256_of

        path = Path(options["archive"]).expanduser()
        dest = None
        if connection.vendor == "sqlite":
            connection.ensure_connection()
            dest = connection.connection
        try:
            restored = restore_backup(path, dest, Path(settings.DATA_DIR).expanduser(),
                                      options["force"])
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        manifest = restored.manifest
        if manifest.get("store"):
            from review_ui.models import AuditEvent

            counts = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in restored.counts.items())
            self.stdout.write(f"store restored ({counts}), backed up {manifest['created_at']} "
                              f"by tutorwatch {manifest['tutorwatch']}")
            self.stdout.write("run `tutorwatch migrate` if this release is newer than the "
                              "backup's")
            try:
                AuditEvent.record(None, "store.restored", detail={
                    "archive": path.name, "sha256": sha256_of(path),
                    "created_at": manifest["created_at"], "counts": restored.counts,
                    "migrations": manifest["store"].get("migrations", {}),
                })
            except Exception as exc:  # an older release's store, not migrated yet
                self.stderr.write(f"note: the restore could not be audited before `tutorwatch "
                                  f"migrate` ({type(exc).__name__})")
        self.stdout.write(f"data directory {settings.DATA_DIR}: {restored.files} files restored")
