"""Backups of a SQLite store and the data directory, in one archive (``tutorwatch backup`` and
``tutorwatch restore``).

The archive is a gzipped tar: ``store.sqlite3`` (a copy made with SQLite's online backup API,
in one step, so it is one consistent snapshot even while crawls write: the other connections
go on writing into the WAL meanwhile), the data directory's files under ``data/`` (the secret
key, trained models, anything else but the store itself, the demo's store, ``static/``, which
``collectstatic`` makes again, ``logs/``, which logrotate keeps, and lock files), and
``manifest.json``, written last, naming every member with its size and SHA-256, the store's
applied migrations and its row counts.

Restoring checks every member against the manifest before anything is changed, refuses a store
that is not empty unless forced, copies the store in with the same backup API (so a store left
in WAL mode is replaced whole) and writes the data files. PostgreSQL stores are backed up with
``pg_dump`` (docs/deploy.md); ``data_only`` archives hold the data directory alone.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any

FORMAT = "tutorwatch-backup"
VERSION = 1
MANIFEST = "manifest.json"
STORE_MEMBER = "store.sqlite3"
DATA_PREFIX = "data/"
# Not backed up from the data directory: made again by collectstatic, rotated logs, and files
# held only while running.
SKIPPED_DIRS = {"static", "logs", "cache"}  # cache: made again when needed
SKIPPED_SUFFIXES = (".lock", ".partial")
# The tables counted in the manifest, and whose rows make a store "not empty".
COUNTED = {"ads": "review_ui_ad", "audit_events": "review_ui_auditevent",
           "users": "auth_user", "sources": "review_ui_source"}


class BackupError(Exception):
    """A backup that cannot be written, or an archive that cannot be restored (says why)."""


@dataclass
class Restored:
    manifest: dict[str, Any]
    files: int
    counts: dict[str, int]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def snapshot(source: sqlite3.Connection, path: Path) -> None:
    """Copy the database of ``source`` into a new file ``path``, consistent, and check it."""
    dest = sqlite3.connect(path)
    try:
        source.backup(dest)  # all pages in one step: one read transaction, one snapshot
        dest.execute("PRAGMA journal_mode=DELETE")  # the copy is a single self-contained file
        result = dest.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        dest.close()
    if result != "ok":
        raise BackupError(f"the copy of the store fails SQLite's integrity check: {result}")


def store_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Rows in the counted tables (those the store lacks, not migrated yet, are left out)."""
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    return {name: conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
            for name, table in COUNTED.items() if table in tables}


def applied_migrations(conn: sqlite3.Connection) -> dict[str, str]:
    """The last migration applied, per app."""
    try:
        rows = conn.execute("SELECT app, name FROM django_migrations").fetchall()
    except sqlite3.OperationalError:
        return {}
    last: dict[str, str] = {}
    for app, name in rows:
        last[app] = max(last.get(app, ""), name)
    return last


def data_files(data_dir: Path, skip: set[Path]) -> list[Path]:
    """The data directory's regular files to back up, sorted."""
    if not data_dir.is_dir():
        return []
    skip = {p.resolve() for p in skip}
    found = []
    for path in sorted(data_dir.rglob("*")):
        relative = path.relative_to(data_dir)
        if relative.parts[0] in SKIPPED_DIRS or path.is_symlink() or not path.is_file():
            continue
        if path.name.endswith(SKIPPED_SUFFIXES) or path.resolve() in skip:
            continue
        found.append(path)
    return found


def store_files(path: Path) -> set[Path]:
    """A SQLite file with its journal, WAL and shared-memory files."""
    return {path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal"))}


def _version() -> str:
    try:
        return metadata.version("tutorwatch")
    except metadata.PackageNotFoundError:
        return "unknown"


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o600) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = int(datetime.now(UTC).timestamp())
    tar.addfile(info, io.BytesIO(data))


def _add_file(tar: tarfile.TarFile, path: Path, name: str) -> None:
    info = tar.gettarinfo(path, arcname=name)
    info.mode, info.uid, info.gid, info.uname, info.gname = 0o600, 0, 0, "", ""
    with open(path, "rb") as handle:
        tar.addfile(info, handle)


def write_backup(out: Path, data_dir: Path, source: sqlite3.Connection | None,
                 skip: set[Path]) -> dict[str, Any]:
    """Write the archive ``out`` (mode 0600: it holds the secret key); ``source`` None backs up
    the data directory alone. Returns the manifest."""
    out = out.resolve()
    if out.is_dir():
        raise BackupError(f"{out} is a folder: give the archive's file name")
    if not out.parent.is_dir():
        raise BackupError(f"cannot write {out}: no folder {out.parent}")
    manifest: dict[str, Any] = {
        "format": FORMAT, "version": VERSION, "tutorwatch": _version(),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"), "store": None,
        "files": [],
    }
    partial = out.with_name(out.name + ".partial")
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".tutorwatch-backup-") as work:
        try:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError as exc:
            raise BackupError(f"cannot write {out}: {exc.strerror}") from None
        try:
            with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
                if source is not None:
                    copy = Path(work) / STORE_MEMBER
                    snapshot(source, copy)
                    check = sqlite3.connect(copy)
                    try:
                        counts, migrations = store_counts(check), applied_migrations(check)
                    finally:
                        check.close()
                    manifest["store"] = {"name": STORE_MEMBER, "size": copy.stat().st_size,
                                         "sha256": sha256_of(copy), "counts": counts,
                                         "migrations": migrations}
                    _add_file(tar, copy, STORE_MEMBER)
                for path in data_files(data_dir, skip | {out, partial}):
                    data = path.read_bytes()  # read once: hashed and stored alike
                    name = DATA_PREFIX + path.relative_to(data_dir).as_posix()
                    mode = path.stat().st_mode & 0o777
                    manifest["files"].append({"name": name, "size": len(data), "mode": mode,
                                              "sha256": hashlib.sha256(data).hexdigest()})
                    _add(tar, name, data, mode)
                _add(tar, MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False).encode())
            os.replace(partial, out)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    return manifest


def _safe_name(name: str) -> bool:
    path = PurePosixPath(name)
    return bool(name) and not path.is_absolute() and ".." not in path.parts


def read_manifest(tar: tarfile.TarFile, path: Path) -> dict[str, Any]:
    try:
        member = tar.getmember(MANIFEST)
        handle = tar.extractfile(member)
        manifest = json.loads(handle.read()) if handle else None
    except (KeyError, ValueError, tarfile.TarError, EOFError, OSError) as exc:
        raise BackupError(f"{path}: not a tutorwatch backup (no readable {MANIFEST}: {exc})"
                          ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path}: not a tutorwatch backup ({MANIFEST} is not one)")
    if not isinstance(manifest.get("version"), int) or manifest["version"] > VERSION:
        raise BackupError(f"{path}: backup format version {manifest.get('version')!r} is newer "
                          f"than this release reads ({VERSION}): restore with that release")
    return manifest


def extract_checked(path: Path, into: Path) -> dict[str, Any]:
    """Unpack the archive ``path`` into the folder ``into``, checking every member against the
    manifest (names, sizes, SHA-256s, nothing missing, nothing more). Returns the manifest."""
    try:
        tar = tarfile.open(path, "r:*")
    except FileNotFoundError:
        raise BackupError(f"{path}: no such file") from None
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"{path}: not a tutorwatch backup (not a tar archive: {exc})") from None
    with tar:
        manifest = read_manifest(tar, path)
        expected = {entry["name"]: entry for entry in manifest.get("files", [])}
        if manifest.get("store"):
            expected[STORE_MEMBER] = manifest["store"]
        seen = set()
        try:
            for member in tar:
                if member.name == MANIFEST:
                    continue
                if not member.isfile() or not _safe_name(member.name):
                    raise BackupError(f"{path}: unexpected member {member.name!r}: "
                                      "the archive was not written by tutorwatch backup")
                entry = expected.get(member.name)
                if entry is None:
                    raise BackupError(f"{path}: {member.name!r} is not in the manifest")
                target = into / member.name
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                assert source is not None
                with open(target, "wb") as handle:
                    shutil.copyfileobj(source, handle)
                if sha256_of(target) != entry["sha256"]:
                    raise BackupError(f"{path}: {member.name} does not match its SHA-256 in the "
                                      "manifest: the archive is damaged")
                seen.add(member.name)
        except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
            raise BackupError(f"{path}: the archive is damaged ({exc})") from None
        missing = sorted(set(expected) - seen)
        if missing:
            raise BackupError(f"{path}: the archive lacks {', '.join(missing)} (in its manifest)")
    return manifest


def restore_backup(path: Path, dest: sqlite3.Connection | None, data_dir: Path,
                   force: bool) -> Restored:
    """Restore the archive ``path`` into the store ``dest`` (None: a PostgreSQL store; only a
    data-only archive restores then) and ``data_dir``; nothing is changed unless every member
    checks out, and a store that is not empty is kept unless ``force``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=data_dir, prefix=".tutorwatch-restore-") as work:
        manifest = extract_checked(path, Path(work))
        counts: dict[str, int] = {}
        if manifest.get("store"):
            if dest is None:
                raise BackupError(f"{path} holds a SQLite store, and this store is PostgreSQL: "
                                  "restore a pg_dump archive with pg_restore (docs/deploy.md)")
            present = {k: v for k, v in store_counts(dest).items() if v}
            if present and not force:
                held = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in present.items())
                raise BackupError(f"the store is not empty ({held}): refusing to overwrite it; "
                                  "give --force to replace it with the backup")
            copy = sqlite3.connect(Path(work) / STORE_MEMBER)
            try:
                result = copy.execute("PRAGMA integrity_check").fetchone()[0]
                if result != "ok":
                    raise BackupError(f"{path}: the store in it fails SQLite's integrity check: "
                                      f"{result}")
                copy.backup(dest)
                counts = store_counts(dest)
            finally:
                copy.close()
        files = 0
        for entry in manifest.get("files", []):
            relative = entry["name"][len(DATA_PREFIX):]
            target = data_dir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(Path(work) / entry["name"], int(entry.get("mode", 0o600)) & 0o777)
            os.replace(Path(work) / entry["name"], target)
            files += 1
    return Restored(manifest=manifest, files=files, counts=counts)
