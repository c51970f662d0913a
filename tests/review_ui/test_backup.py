"""``tutorwatch backup`` and ``tutorwatch restore`` (review_ui.backup), and the PostgreSQL procedure
of docs/deploy.md (pg_dump, pg_restore into an empty database): a populated store restored into
an empty one exports the same ads and keeps its audit chain; damaged archives and stores that
are not empty are refused with nothing changed."""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import subprocess
import tarfile
import threading
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from review_ui.backup import BackupError, snapshot
from review_ui.exports import write_jsonl
from review_ui.models import Ad, AuditEvent
from tests.review_ui.conftest import make_item


def test_a_backup_taken_while_another_connection_commits_is_one_consistent_snapshot(tmp_path):
    path = tmp_path / "store.sqlite3"
    setup = sqlite3.connect(path, isolation_level=None)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE pairs (batch INTEGER, half INTEGER, pad BLOB)")
    with setup:  # one transaction
        setup.execute("BEGIN")
        setup.executemany("INSERT INTO pairs VALUES (?, ?, randomblob(1000))",
                          [(-n, h) for n in range(1, 1001) for h in (0, 1)])
    stop = threading.Event()
    committed = []

    def write() -> None:  # a crawl: every transaction stores two rows of one batch
        conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        conn.execute("PRAGMA synchronous=OFF")  # no fsync per commit: a busy disk is slow
        batch = 0
        while not stop.is_set():
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO pairs VALUES (?, 0, randomblob(1000))", (batch,))
            conn.execute("INSERT INTO pairs VALUES (?, 1, randomblob(1000))", (batch,))
            conn.execute("COMMIT")
            committed.append(batch)
            batch += 1
            time.sleep(0.002)  # a crawl's pace, and the GIL for the backup
        conn.close()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        reader = sqlite3.connect(path, isolation_level=None, timeout=30)
        counts = []
        for n in range(3):
            while len(committed) < 5 * (n + 1):
                time.sleep(0.01)
            copy = tmp_path / f"copy{n}.sqlite3"
            snapshot(reader, copy)
            check = sqlite3.connect(copy)
            halves = check.execute("SELECT COUNT(*) FROM pairs GROUP BY batch HAVING COUNT(*) != 2"
                                   ).fetchall()
            counts.append(check.execute("SELECT COUNT(*) FROM pairs").fetchone()[0])
            assert check.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one file
            check.close()
            assert halves == []  # no transaction half in a copy
    finally:
        stop.set()
        writer.join()
    assert counts == sorted(counts) and counts[0] < counts[-1]  # the writer went on meanwhile
    assert not (tmp_path / "copy0.sqlite3-wal").exists()


def _populate(data_dir: Path) -> bytes:
    make_item(url="http://127.0.0.1/post/1")
    make_item(url="http://127.0.0.1/post/2", label=0, score=0.1, phones=["13800000002"])
    make_item(url="http://127.0.0.1/post/1", text="改过的文字：初中英语一对一 13912345678")
    (data_dir / "models").mkdir(parents=True)
    (data_dir / "models" / "candidate.skops").write_bytes(os.urandom(4096))
    (data_dir / "static").mkdir()
    (data_dir / "static" / "made-by-collectstatic.css").write_text("body{}")
    out = io.BytesIO()
    assert write_jsonl(out) == 2
    return out.getvalue()


def _digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
@pytest.mark.pg
def test_a_store_backed_up_and_restored_into_an_empty_one_exports_the_same(
        transactional_db, tmp_path, settings, tutorwatch):
    data_dir = tmp_path / "source-data"
    data_dir.mkdir()
    (data_dir / "secret_key").write_text("k$&(y")
    settings.DATA_DIR = data_dir
    exported = _populate(data_dir)
    last = AuditEvent.objects.order_by("-pk").first()
    restored_data = Path(tutorwatch.env["TUTORWATCH_DATA_DIR"])
    out = tmp_path / "after.jsonl"
    # One process for the restored store's commands: each start of one costs seconds.
    steps = [f"c('export', '--format', 'jsonl', '-o', {str(out)!r})",
             f"c('audit', 'verify', '--expect', '{last.pk}:{last.hash}')"]
    if connection.vendor == "sqlite":
        archive = tmp_path / "tutorwatch.tar.gz"
        call_command("backup", "-o", str(archive), stdout=io.StringIO())
        assert oct(archive.stat().st_mode & 0o777) == "0o600"
        steps.insert(0, f"c('restore', {str(archive)!r})")
    else:  # docs/deploy.md's PostgreSQL procedure, as written there
        db = connection.settings_dict
        dump = tmp_path / "tutorwatch.dump"
        subprocess.run(["pg_dump", "--format=custom", f"--file={dump}",
                        f"--host={db['HOST'] or '127.0.0.1'}", f"--port={db['PORT'] or 5432}",
                        f"--username={db['USER'] or 'postgres'}", f"--dbname={db['NAME']}"],
                       check=True, capture_output=True)
        subprocess.run(["pg_restore", "--no-owner", "--exit-on-error",
                        f"--dbname={tutorwatch.env['TUTORWATCH_DB']}", str(dump)],
                       check=True, capture_output=True)
    done = tutorwatch("shell", "-c", "from django.core.management import call_command as c; "
                      + "; ".join(steps))
    assert out.read_bytes() == exported
    assert [json.loads(line)["text"] for line in exported.splitlines()][0].startswith("改过的")
    assert "audit log OK" in done.stdout.decode()
    if connection.vendor == "sqlite":
        assert "store restored (2 ads" in done.stdout.decode()
        wanted = {k: v for k, v in _digests(data_dir).items() if not k.startswith("static/")}
        assert _digests(restored_data) == wanted  # secret key and models; not static/


def _tampered(archive: Path, out: Path) -> Path:
    """The archive with one data file's bytes changed and its manifest left as it was."""
    with tarfile.open(archive) as src, tarfile.open(out, "w:gz") as dst:
        for member in src:
            data = src.extractfile(member).read()
            if member.name == "data/models/candidate.skops":
                data = b"x" + data[1:]
            dst.addfile(member, io.BytesIO(data))
    return out


@pytest.mark.django_db(transaction=True)
def test_restore_refuses_a_store_that_is_not_empty_and_damaged_archives(tmp_path, settings):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    settings.DATA_DIR = data_dir
    _populate(data_dir)
    archive = tmp_path / "b.tar.gz"
    if connection.vendor != "sqlite":
        with pytest.raises(CommandError, match="back it up with pg_dump") as raised:
            call_command("backup", "-o", str(archive))
        assert raised.value.returncode == 2 and not archive.exists()
        call_command("backup", "--data-only", "-o", str(archive), stdout=io.StringIO())
        (data_dir / "models" / "candidate.skops").unlink()
        call_command("restore", str(archive), stdout=io.StringIO())
        assert (data_dir / "models" / "candidate.skops").exists()
        return
    call_command("backup", "-o", str(archive), stdout=io.StringIO())
    model = (data_dir / "models" / "candidate.skops").read_bytes()

    with pytest.raises(CommandError, match=r"the store is not empty \(2 ads"):
        call_command("restore", str(archive))
    damaged = _tampered(archive, tmp_path / "damaged.tar.gz")
    (data_dir / "models" / "candidate.skops").write_bytes(b"changed since")
    with pytest.raises(CommandError, match="does not match its SHA-256"):
        call_command("restore", "--force", str(damaged))
    (tmp_path / "notes.txt").write_text("not an archive")
    with pytest.raises(CommandError, match="not a tutorwatch backup"):
        call_command("restore", "--force", str(tmp_path / "notes.txt"))
    with pytest.raises(CommandError, match="no such file"):
        call_command("restore", str(tmp_path / "missing.tar.gz"))
    assert (data_dir / "models" / "candidate.skops").read_bytes() == b"changed since"

    make_item(url="http://127.0.0.1/post/after-the-backup")
    assert Ad.objects.count() == 3
    out = io.StringIO()
    call_command("restore", "--force", str(archive), stdout=out)
    assert sorted(Ad.objects.values_list("url", flat=True)) == [
        "http://127.0.0.1/post/1", "http://127.0.0.1/post/2"]
    assert (data_dir / "models" / "candidate.skops").read_bytes() == model
    assert AuditEvent.objects.order_by("-pk").first().action == "store.restored"


def test_an_archive_with_a_member_outside_the_data_directory_is_refused(tmp_path):
    from review_ui.backup import extract_checked

    archive = tmp_path / "evil.tar.gz"
    manifest = {"format": "tutorwatch-backup", "version": 1, "store": None,
                "files": [{"name": "../escape", "sha256": "0" * 64, "size": 1}]}
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in (("../escape", b"x"), ("manifest.json", json.dumps(manifest).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (tmp_path / "into").mkdir()
    with pytest.raises(BackupError, match="unexpected member '../escape'"):
        extract_checked(archive, tmp_path / "into")
    assert not (tmp_path / "escape").exists()
