"""``tutorwatch backup -o FILE [--data-only]``: the SQLite store and the data directory in one
archive (review_ui.backup), consistent while crawls write. The archive holds the secret key and
personal data: it is written with mode 0600; keep it like the store.

A PostgreSQL store is backed up with pg_dump instead (the command prints how, docs/deploy.md):
pg_dump must match the server's major version and uses the DBA's credentials, and its custom
format restores with pg_restore into a new database; ``--data-only`` then archives the data
directory alone.

Exit status: 0 written; 1 it could not be written; 2 PostgreSQL without ``--data-only``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection


def pg_dump_hint() -> str:
    db = settings.DATABASES["default"]
    target = f"--host={db.get('HOST') or 'localhost'} --port={db.get('PORT') or 5432} " \
             f"--username={db.get('USER') or 'postgres'} --dbname={db.get('NAME')}"
    return ("the store is PostgreSQL: back it up with pg_dump, e.g.\n"
            f"  pg_dump --format=custom --file=tutorwatch-$(date +%F).dump {target}\n"
            "and the data directory with `tutorwatch backup --data-only -o FILE` "
            "(docs/deploy.md, \"Backup and restore\")")


class Command(BaseCommand):
    help = "Back up the SQLite store and the data directory into one archive."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("-o", "--output", required=True, metavar="FILE",
                            help="the archive to write (a .tar.gz)")
        parser.add_argument("--data-only", action="store_true",
                            help="the data directory alone (with a PostgreSQL store)")

    def handle(self, *args: Any, **options: Any) -> None:
        from review_ui.backup import BackupError, store_files, write_backup

        out = Path(options["output"]).expanduser()
        data_dir = Path(settings.DATA_DIR).expanduser()
        skip: set[Path] = store_files(data_dir / "demo.sqlite3")
        source = None
        if not options["data_only"]:
            if connection.vendor != "sqlite":
                raise CommandError(pg_dump_hint(), returncode=2)
            connection.ensure_connection()
            source = connection.connection
            name = str(settings.DATABASES["default"]["NAME"])
            if not name.startswith(("file:", ":memory:")):
                skip |= store_files(Path(name))
        try:
            manifest = write_backup(out, data_dir, source, skip)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        store = manifest["store"]
        if store:
            counts = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in store["counts"].items())
            self.stdout.write(f"store: {store['size']} bytes ({counts}), sha256 {store['sha256']}")
        self.stdout.write(f"data directory {data_dir}: {len(manifest['files'])} files")
        self.stdout.write(f"written {out.resolve()} (mode 0600: it holds the secret key)")
