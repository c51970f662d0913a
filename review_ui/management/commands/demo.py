"""``tutorwatch demo [--port P] [--fresh] [--no-serve]``: the whole pipeline on embedded defaults.

Starts the sandbox sites on 127.0.0.1:8701–8703, prepares the demo store, crawls every sandbox
source (in a child process, as a scheduled crawl would run), creates or resets the demo officer,
prints its login, and serves the review UI on http://127.0.0.1:P until Ctrl-C.

The demo store. The demo gives user ``officer`` a password printed in the README, so it works
only in a store it built itself:

- without ``TUTORWATCH_DB``, ``tutorwatch demo`` uses its own SQLite file,
  ``<data dir>/demo.sqlite3`` (``review_ui.cli`` names it), never the default store;
- a store is the demo's when it holds the table ``tutorwatch_demo_store``, which the demo
  creates in a store without any table before migrating it (a random id, when it was built, how
  many times it was crawled). A store with tables but no such table is refused: one line, exit
  status 2, nothing touched (no migration, no user). That holds for PostgreSQL URLs too;
- each start reuses the demo store (migrated, crawled again: only new pages are fetched) and says
  so; ``--fresh`` rebuilds it. A demo store that cannot be read or migrated is rebuilt, and said
  so; the demo's own SQLite file is then kept beside as ``demo.sqlite3.broken-<time>``.

A crawl that fails (a health check, a site that did not answer) is reported and the UI is served
anyway: it shows what the store holds. Exit status: 2 for a store the demo did not build; 1 when
a port is in use, the store cannot be reached, or (with ``--no-serve``) the crawl failed.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, OperationalError, connection
from django.db.migrations.exceptions import InconsistentMigrationHistory, NodeNotFoundError

from crawler.config import bundled_sources
from crawler.sandbox import DEFAULT_PORTS, start_sandbox
from review_ui.cli import DEMO_STORE_FILE
from review_ui.roles import OFFICERS, ensure_roles

DEMO_USERNAME = "officer"
DEMO_PASSWORD = "tutorwatch-demo"
MARKER_TABLE = "tutorwatch_demo_store"
EXIT_NOT_DEMO_STORE = 2
# What a demo store may fail with while it is read or migrated; it is rebuilt then.
MIGRATION_ERRORS = (DatabaseError, InconsistentMigrationHistory, NodeNotFoundError)


@dataclass(frozen=True)
class Marker:
    """The row that makes a store the demo's."""

    store_id: str
    built_at: str
    crawls: int


class NotADemoStore(Exception):
    """A store the demo did not build; ``str()`` says what it holds."""


def describe_store() -> str:
    """The store in words, without its password: a SQLite path or a PostgreSQL name and host."""
    conf = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"SQLite file {conf['NAME']}"
    host = conf.get("HOST") or "localhost"
    port = f":{conf['PORT']}" if conf.get("PORT") else ""
    return f"{connection.display_name} database {conf['NAME']!r} at {host}{port}"


def own_sqlite_file() -> Path | None:
    """The store's path when it is the demo's own SQLite file in the data directory."""
    if connection.vendor != "sqlite":
        return None
    path = Path(str(connection.settings_dict["NAME"])).expanduser().resolve()
    own = (Path(settings.DATA_DIR) / DEMO_STORE_FILE).expanduser().resolve()
    return path if path == own else None


def read_marker() -> Marker | None:
    """The demo marker, or None for a store without any table (the demo may build there).

    Raises :class:`NotADemoStore` for a store that holds tables but no marker, and Django's
    ``DatabaseError`` when the store cannot be read at all."""
    tables = connection.introspection.table_names()
    if not tables:
        return None
    if MARKER_TABLE not in tables:
        shown = ", ".join(sorted(tables)[:3]) + (", …" if len(tables) > 3 else "")
        raise NotADemoStore(f"it holds {len(tables)} tables ({shown}) and no demo marker")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT store_id, built_at, crawls FROM {connection.ops.quote_name(MARKER_TABLE)}"
        )
        row = cursor.fetchone()
    if row is None:
        raise NotADemoStore("its demo marker table is empty")
    return Marker(str(row[0]), str(row[1]), int(row[2]))


def write_marker() -> Marker:
    marker = Marker(secrets.token_hex(16), datetime.now(UTC).isoformat(timespec="seconds"), 0)
    table = connection.ops.quote_name(MARKER_TABLE)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {table} (store_id varchar(64) NOT NULL, "
                       "built_at varchar(40) NOT NULL, crawls integer NOT NULL)")
        cursor.execute(f"INSERT INTO {table} (store_id, built_at, crawls) VALUES (%s, %s, %s)",
                       [marker.store_id, marker.built_at, marker.crawls])
    return marker


def count_crawl() -> None:
    table = connection.ops.quote_name(MARKER_TABLE)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET crawls = crawls + 1")


def empty_store(keep_aside: bool) -> str:
    """Remove everything from a demo store; returns where the old SQLite file went, if kept."""
    connection.close()
    if connection.vendor == "sqlite":
        path = Path(str(connection.settings_dict["NAME"]))
        kept = ""
        if keep_aside and path.exists():
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            aside = path.with_name(f"{path.name}.broken-{stamp}")
            path.rename(aside)
            kept = str(aside)
        for leftover in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm",
                                                                          "-journal"))):
            leftover.unlink(missing_ok=True)
        return kept
    tables = connection.introspection.table_names()
    if tables:
        with connection.cursor() as cursor:
            names = ", ".join(connection.ops.quote_name(t) for t in tables)
            cursor.execute(f"DROP TABLE {names} CASCADE")
    return ""


def busy_ports(ports: list[int]) -> list[int]:
    """Ports of 127.0.0.1 that a server could not listen on now (probed as servers bind:
    with SO_REUSEADDR, so that connections of a demo just stopped do not count)."""
    busy = []
    for port in ports:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                busy.append(port)
    return busy


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class Command(BaseCommand):
    help = "Run the sandbox sites, crawl them, and serve the review UI with a demo officer."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", type=int, default=8000, help="port of the review UI")
        parser.add_argument("--no-serve", action="store_true",
                            help="stop after crawling (for scripts and tests)")
        parser.add_argument("--fresh", action="store_true",
                            help="rebuild the demo store instead of reusing it")

    def handle(self, *args: Any, **options: Any) -> None:
        marker, broken = self._inspect_store()
        if not options["no_serve"] and busy_ports([options["port"]]):
            raise CommandError(
                f"port {options['port']} of 127.0.0.1, where the review UI would be served, is "
                "in use: is another `tutorwatch demo` still running? Stop it with Ctrl-C, or "
                "choose another port with --port"
            )
        try:
            sandbox = start_sandbox(dict(DEFAULT_PORTS))
        except OSError as exc:
            busy = busy_ports(sorted(DEFAULT_PORTS.values())) or sorted(DEFAULT_PORTS.values())
            raise CommandError(
                f"cannot start the sandbox sites: port{'s' if len(busy) > 1 else ''} "
                f"{', '.join(map(str, busy))} of 127.0.0.1 in use ({_first_line(exc)}): is "
                "another `tutorwatch demo` still running? Stop it with Ctrl-C, or end the "
                "program that holds the port"
            ) from None
        try:
            self._prepare_store(marker, broken, fresh=options["fresh"])
            crawled = self._crawl()
            count_crawl()
            self._demo_officer()
            self.stdout.write(self.style.SUCCESS(
                f"\nReview UI: http://127.0.0.1:{options['port']}/\n"
                f"Log in as  {DEMO_USERNAME}  /  {DEMO_PASSWORD}\n"
            ))
            if options["no_serve"]:
                if not crawled:
                    raise CommandError("the sandbox crawl failed (see above)")
                return
            call_command(
                "runserver", f"127.0.0.1:{options['port']}", use_reloader=False,
                insecure_serving=True,
            )
        finally:
            sandbox.stop()

    # --- the store ----------------------------------------------------------------------------
    def _inspect_store(self) -> tuple[Marker | None, str]:
        """The store's demo marker (None: no table at all), and why the demo's own file cannot
        be read ("" when it can). Refuses, touching nothing, a store the demo did not build."""
        where = describe_store()
        try:
            return read_marker(), ""
        except NotADemoStore as exc:
            raise CommandError(
                f"refusing to run the demo in the {where}: {exc}, so the demo did not build it "
                "and will not touch it (it would reset user 'officer' to the public demo "
                "password). Unset TUTORWATCH_DB to use the demo's own store, or name an empty "
                "database", returncode=EXIT_NOT_DEMO_STORE,
            ) from None
        except OperationalError as exc:  # a server that does not answer, a missing folder
            raise CommandError(f"cannot reach the {where}: {_first_line(exc)}") from None
        except DatabaseError as exc:  # such as a SQLite file that is not a database
            if own_sqlite_file() is None:
                raise CommandError(
                    f"refusing to run the demo in the {where}: it cannot be read "
                    f"({_first_line(exc)}), so the demo cannot tell that it built it",
                    returncode=EXIT_NOT_DEMO_STORE,
                ) from None
            return None, _first_line(exc)

    def _prepare_store(self, marker: Marker | None, broken: str, fresh: bool) -> None:
        where = describe_store()
        if broken:
            kept = empty_store(keep_aside=True)
            self._build(f"rebuilt the demo store in the {where}: the old one could not be read "
                        f"({broken}); it is kept as {kept}")
            return
        if marker is None:
            self._build(f"built a new demo store in the {where}")
            return
        if fresh:
            empty_store(keep_aside=False)
            self._build(f"rebuilt the demo store in the {where} (--fresh)")
            return
        try:
            call_command("migrate", interactive=False, verbosity=0)
        except MIGRATION_ERRORS as exc:
            kept = empty_store(keep_aside=True)
            self._build(
                f"rebuilt the demo store in the {where}: it could not be migrated "
                f"({_first_line(exc)})" + (f"; the old one is kept as {kept}" if kept else "")
            )
            return
        times = "once" if marker.crawls == 1 else f"{marker.crawls} times"
        try:
            built = datetime.fromisoformat(marker.built_at).astimezone().strftime("%Y-%m-%d %H:%M")
        except ValueError:
            built = marker.built_at
        self.stdout.write(
            f"reusing the demo store in the {where} (built {built}, crawled {times}); "
            "only new pages are fetched. --fresh rebuilds it"
        )

    def _build(self, message: str) -> None:
        write_marker()
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write(message)

    # --- crawl and account --------------------------------------------------------------------
    def _crawl(self) -> bool:
        """Crawl the sandbox sources in a child process; whether every crawl went well."""
        names = [name for name in bundled_sources() if name.startswith("sandbox_")]
        self.stdout.write(f"crawling {', '.join(names)} …")
        self.stdout.flush()
        connection.close()  # the child writes to the store; SQLite wants no open writer here
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "review_ui.settings"}
        env.setdefault("TUTORWATCH_CRAWL_LOG_LEVEL", "WARNING")
        env["TUTORWATCH_ALLOW_NETWORKS"] = "127.0.0.0/8"  # the sandbox sites are on 127.0.0.1
        done = subprocess.run(
            [sys.executable, "-m", "review_ui.cli", "crawl", *names], env=env, check=False
        )
        if done.returncode == 0:
            return True
        self.stderr.write(
            f"the sandbox crawl failed (exit status {done.returncode}; the lines above say "
            "why): the review UI shows what the store holds"
        )
        return False

    def _demo_officer(self) -> None:
        from django.contrib.auth import get_user_model

        groups = ensure_roles()
        user, _ = get_user_model().objects.get_or_create(username=DEMO_USERNAME)
        user.set_password(DEMO_PASSWORD)
        user.save()
        user.groups.add(groups[OFFICERS])
