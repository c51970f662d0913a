"""The audit log's hash chain (review_ui.audit_chain): every way of writing a row chains it,
``tutorwatch audit verify`` names the first row changed, removed or slipped in behind the
application's back, and on PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, connections, transaction
from django.urls import reverse

from review_ui import audit_chain
from review_ui.exports import AUDIT_FIELDS
from review_ui.models import AppendOnlyError, AuditEvent
from tests.conftest import ROOT, subprocess_env
from tests.review_ui.conftest import make_item

on_postgresql = pytest.mark.skipif(not os.environ.get("TUTORWATCH_TEST_PG"),
                                   reason="needs PostgreSQL (TUTORWATCH_TEST_PG)")


def record(n: int) -> list[AuditEvent]:
    return [AuditEvent.record(None, "ad.viewed", detail={"n": i, "note": "看过"})
            for i in range(n)]


def tamper(sql: str, params: list) -> None:
    """Write to the table behind the application's back, as its owner could: on PostgreSQL
    the owner can turn the trigger off first (inside the test's transaction)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # ALTER TABLE needs the checks of the test's own inserts run first.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE review_ui_auditevent DISABLE TRIGGER USER")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE review_ui_auditevent ENABLE TRIGGER USER")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def verify_fails(**options) -> str:
    with pytest.raises(CommandError) as failed:
        call_command("audit", "verify", **options)
    assert failed.value.returncode == 1
    return str(failed.value)


def verify_ok(capsys, **options) -> str:
    call_command("audit", "verify", **options)
    return capsys.readouterr().out


def assert_chained(events: list[AuditEvent]) -> None:
    rows = list(AuditEvent.objects.order_by("pk").values_list("pk", "prev_hash", "hash"))
    assert [pk for pk, _, _ in rows] == sorted(event.pk for event in events)
    prev = audit_chain.GENESIS
    for _, prev_hash, hash_ in rows:
        assert prev_hash == prev and len(hash_) == 64
        prev = hash_


@pytest.mark.django_db
def test_each_recorded_row_carries_the_previous_rows_hash_and_its_own(capsys):
    events = record(3)
    assert_chained(events)
    stored = AuditEvent.objects.get(pk=events[1].pk)
    assert stored.hash == audit_chain.link(stored.prev_hash, audit_chain.content_of(stored))
    out = verify_ok(capsys)
    assert "3 rows checked" in out and f"last row pk {events[-1].pk}, hash {events[-1].hash}" in out


@pytest.mark.django_db
def test_verify_names_a_row_edited_with_raw_sql(capsys):
    events = record(5)
    tamper("UPDATE review_ui_auditevent SET action = %s WHERE id = %s",
           ["item.decided", events[2].pk])
    message = verify_fails()
    assert f"first bad row pk {events[2].pk} (" in message
    assert "item.decided): content changed" in message
    assert "Good rows before it: 2." in message


@pytest.mark.django_db
def test_verify_names_a_row_whose_detail_was_edited():
    events = record(3)
    tamper("UPDATE review_ui_auditevent SET detail = %s WHERE id = %s",
           ['{"n": 1, "note": "没看过"}', events[1].pk])
    assert f"first bad row pk {events[1].pk}" in verify_fails()


@pytest.mark.django_db
@pytest.mark.parametrize("chunk", [2, 5000])
def test_verify_names_the_row_after_one_deleted_in_the_middle(chunk):
    events = record(6)
    tamper("DELETE FROM review_ui_auditevent WHERE id = %s", [events[3].pk])
    message = verify_fails(chunk=chunk)
    assert f"first bad row pk {events[4].pk}" in message
    assert (f"row missing: its prev_hash is the hash of no row left; a row between pk "
            f"{events[2].pk} and pk {events[4].pk} was deleted") in message


@pytest.mark.django_db
def test_verify_says_when_the_first_rows_are_gone():
    events = record(3)
    tamper("DELETE FROM review_ui_auditevent WHERE id = %s", [events[0].pk])
    message = verify_fails()
    assert f"first bad row pk {events[1].pk}" in message and "rows before it are gone" in message


@pytest.mark.django_db
def test_verify_names_a_row_rewritten_with_a_recomputed_hash():
    events = record(4)
    forged = AuditEvent.objects.get(pk=events[1].pk)
    forged.action = "user.logged_out"
    forged_hash = audit_chain.link(forged.prev_hash, audit_chain.content_of(forged))
    tamper("UPDATE review_ui_auditevent SET action = %s, hash = %s WHERE id = %s",
           ["user.logged_out", forged_hash, forged.pk])
    message = verify_fails()
    assert f"first bad row pk {events[2].pk}" in message
    assert f"chain broken: its prev_hash is not the hash of the row before it (pk {forged.pk})" \
        in message


@pytest.mark.django_db
def test_verify_names_a_row_inserted_outside_the_chain():
    events = record(2)
    tamper("INSERT INTO review_ui_auditevent (at, action, detail, prev_hash, hash) "
           "VALUES (%s, %s, %s, %s, %s)", [events[1].at, "item.decided", "{}", "x", ""])
    assert "row not in the chain: it has no hash" in verify_fails()


@pytest.mark.django_db
def test_verify_with_a_kept_head_finds_rows_removed_from_the_end(capsys):
    events = record(4)
    kept = f"{events[-1].pk}:{events[-1].hash}"
    assert "still has the hash kept for it" in verify_ok(capsys, expect=kept)
    tamper("DELETE FROM review_ui_auditevent WHERE id = %s", [events[-1].pk])
    assert "audit log OK: 3 rows checked" in verify_ok(capsys)  # the chain alone cannot tell
    message = verify_fails(expect=kept)
    assert f"row pk {events[-1].pk}, kept with hash {events[-1].hash}, is gone" in message


@pytest.mark.django_db
def test_verify_with_a_kept_head_finds_a_tail_rewritten_whole(capsys):
    events = record(4)
    kept = f"{events[-1].pk}:{events[-1].hash}"
    prev = events[0].hash
    for event in AuditEvent.objects.filter(pk__gt=events[0].pk).order_by("pk"):
        event.detail = {"n": 0, "note": "改写"}
        event.prev_hash, event.hash = prev, audit_chain.link(prev, audit_chain.content_of(event))
        prev = event.hash
        tamper("UPDATE review_ui_auditevent SET detail = %s, prev_hash = %s, hash = %s "
               "WHERE id = %s", ['{"n": 0, "note": "\\u6539\\u5199"}', event.prev_hash,
                                 event.hash, event.pk])
    assert "audit log OK: 4 rows checked" in verify_ok(capsys)
    assert f"row pk {events[-1].pk} has hash {prev}, kept as {events[-1].hash}" in \
        verify_fails(expect=kept)


@pytest.mark.django_db
def test_saving_an_existing_row_again_is_refused():
    event = record(1)[0]
    with pytest.raises(AppendOnlyError):
        AuditEvent(pk=event.pk, action="user.logged_out").save()
    copy = AuditEvent.objects.get(pk=event.pk)
    copy.detail = {"n": 99}
    with pytest.raises(AppendOnlyError):
        copy.save()
    with pytest.raises(AppendOnlyError):
        copy.save(update_fields=["detail"])
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.action, stored.detail) == ("ad.viewed", {"n": 0, "note": "看过"})


@pytest.mark.django_db
def test_bulk_create_chains_its_rows_in_order_after_the_existing_ones(capsys):
    first = record(2)
    made = AuditEvent.objects.bulk_create(
        (AuditEvent(action="item.queued", detail={"score": 0.5 + i / 100}) for i in range(7)),
        batch_size=3,
    )
    assert [event.detail["score"] for event in AuditEvent.objects.order_by("pk")[2:]] == \
        [0.5 + i / 100 for i in range(7)]
    assert made[0].prev_hash == first[-1].hash
    assert_chained([*first, *made])
    assert "9 rows checked" in verify_ok(capsys)


@pytest.mark.django_db
def test_the_store_chains_the_rows_it_writes_in_bulk(capsys):
    from review_ui.store.ingest import ingest

    make_item(url="http://127.0.0.1/one")
    verdict = {"score": 0.9, "label": 1, "category": "open_tutoring", "evidence": [],
               "model_version": "m"}
    ingest([{"url": f"http://127.0.0.1/batch/{i}", "source": "test_site",
             "title": "小学数学", "body_text": f"周末辅导 {i} 号", "verdict": verdict}
            for i in range(4)])
    assert AuditEvent.objects.filter(action="ad.created").count() == 5
    assert f"{AuditEvent.objects.count()} rows checked" in verify_ok(capsys)


@pytest.mark.django_db
def test_bulk_create_refuses_rows_with_a_pk_or_conflict_handling():
    event = record(1)[0]
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.bulk_create([AuditEvent(pk=event.pk + 100, action="x")])
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.bulk_create([AuditEvent(action="x")], ignore_conflicts=True)
    assert AuditEvent.objects.count() == 1


@pytest.mark.django_db
def test_details_hash_as_the_store_gives_them_back(capsys):
    """Tuples, integer keys and floats that JSON writes with an exponent come back from the
    column changed (and on PostgreSQL, from jsonb's decimal text, as integers)."""
    AuditEvent.record(None, "user.changed", detail={
        "pair": (1, 2), 7: "seven", "big": 1e20, "huge": 1.5e300, "tiny": 1e-7, "neg": -0.0,
        "whole": 5.0, "text": "补习\u3000=\x01",
    })
    assert "1 row checked" in verify_ok(capsys)


@pytest.mark.django_db
def test_the_audit_export_carries_the_chain(supervisor_client, capsys):
    record(2)
    response = supervisor_client.get(reverse("review_ui:audit_export"))
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == AUDIT_FIELDS and AUDIT_FIELDS[-2:] == ["prev_hash", "hash"]
    by_id = {int(row[0]): row for row in rows[1:]}
    for event in AuditEvent.objects.filter(pk__in=by_id):
        assert by_id[event.pk][-2:] == [event.prev_hash, event.hash]


def test_audit_verify_exits_1_naming_a_row_edited_in_a_sqlite_store(tmp_path: Path):
    """The command as an operator runs it, on a SQLite file edited with the sqlite3 module."""
    import sqlite3

    path = tmp_path / "store.sqlite3"
    env = subprocess_env(f"sqlite:///{path}", tmp_path / "data")

    def tutorwatch(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "review_ui.cli", *args], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=120)

    assert tutorwatch("migrate", "-v", "0").returncode == 0
    assert tutorwatch("shell", "-c", "from review_ui.models import AuditEvent\n"
                      "for i in range(4): AuditEvent.record(None, 'ad.viewed', ad_id=None, "
                      "detail={'n': i})").returncode == 0
    good = tutorwatch("audit", "verify")
    assert good.returncode == 0 and "audit log OK: 4 rows checked" in good.stdout
    with sqlite3.connect(path) as db:
        db.execute("UPDATE review_ui_auditevent SET detail = '{\"n\": 7}' WHERE id = 3")
    bad = tutorwatch("audit", "verify")
    assert bad.returncode == 1, bad.stderr
    assert "first bad row pk 3 (" in bad.stderr and "ad.viewed): content changed" in bad.stderr


# --- PostgreSQL: the trigger and parallel writers --------------------------------------------

@on_postgresql
@pytest.mark.django_db
@pytest.mark.parametrize("sql", [
    "UPDATE review_ui_auditevent SET action = 'x' WHERE id = %s",
    "DELETE FROM review_ui_auditevent WHERE id = %s",
    "TRUNCATE review_ui_auditevent CASCADE",
])
def test_postgresql_refuses_to_change_or_remove_audit_rows(sql):
    event = record(1)[0]
    with pytest.raises(DatabaseError, match="the audit log is append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # else TRUNCATE waits for them
            cursor.execute(sql, [event.pk] if "%s" in sql else None)
    stored = AuditEvent.objects.get()
    assert (stored.pk, stored.action, stored.hash) == (event.pk, "ad.viewed", event.hash)


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_parallel_writers_on_postgresql_append_one_chain(capsys):
    """Writers with their own connections, as crawl workers on several machines, append at the
    same moment: one record at a time, batches, and transactions that write several rows."""
    writers, rounds = 6, 15
    start = threading.Barrier(writers)
    failures: list[BaseException] = []

    def write(n: int) -> None:
        try:
            start.wait()
            for i in range(rounds):
                if i % 3 == 0:
                    AuditEvent.record(None, "ad.viewed", detail={"writer": n, "i": i})
                elif i % 3 == 1:
                    AuditEvent.objects.bulk_create(
                        AuditEvent(action="item.queued", detail={"writer": n, "i": i, "j": j})
                        for j in range(3))
                else:
                    with transaction.atomic():
                        AuditEvent.record(None, "item.claimed", detail={"writer": n, "i": i})
                        AuditEvent.record(None, "item.decided", detail={"writer": n, "i": i})
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    expected = writers * (5 * 1 + 5 * 3 + 5 * 2)
    assert AuditEvent.objects.count() == expected
    assert AuditEvent.objects.values("prev_hash").distinct().count() == expected
    assert f"{expected} rows checked" in verify_ok(capsys)


# --- Migration 0008 on a store that already has audit rows -----------------------------------

OLD_ROWS = """
from django.db import connection
from django.utils import timezone
with connection.cursor() as cursor:
    for i in range(5):
        cursor.execute("INSERT INTO review_ui_auditevent (at, action, detail) VALUES (%s, %s, %s)",
                       [timezone.now(), "ad.viewed", '{"n": %d, "f": 1e20, "s": "补习"}' % i])
"""
RAW_DELETE = """
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("DELETE FROM review_ui_auditevent WHERE id = 2")
print("deleted")
"""


@pytest.mark.slow
@pytest.mark.pg
def test_the_migration_chains_the_rows_already_stored_and_reverses(tutorwatch):
    tutorwatch("migrate", "review_ui", "0007", "-v", "0")
    tutorwatch("shell", "-c", OLD_ROWS)
    tutorwatch("migrate", "-v", "0")
    assert "audit log OK: 5 rows checked" in tutorwatch("audit", "verify").stdout.decode()
    deleted = tutorwatch("shell", "-c", RAW_DELETE, check=False)
    if "postgresql" not in tutorwatch.env["TUTORWATCH_DB"]:
        assert deleted.stdout.decode().strip().endswith("deleted")
        bad = tutorwatch("audit", "verify", check=False)
        assert bad.returncode == 1 and b"first bad row pk 3" in bad.stderr
        return
    assert deleted.returncode != 0
    assert b"the audit log is append-only: DELETE" in deleted.stderr
    tutorwatch("migrate", "review_ui", "0007", "-v", "0")  # drops the trigger and the chain
    tutorwatch("shell", "-c", RAW_DELETE)
    tutorwatch("migrate", "-v", "0")
    assert "audit log OK: 4 rows checked" in tutorwatch("audit", "verify").stdout.decode()


@pytest.mark.django_db
def test_the_admin_shows_a_rows_place_in_the_chain_read_only():
    from django.contrib.auth import get_user_model
    from django.test import Client

    event = record(2)[1]
    root = get_user_model().objects.create_superuser("root", password="a-long-test-password")
    client = Client(headers={"accept-language": "zh-hans"})
    client.force_login(root)
    page = client.get(reverse("admin:review_ui_auditevent_change", args=[event.pk]))
    text = page.content.decode()
    assert page.status_code == 200
    assert "上一条的哈希值" in text and event.prev_hash in text and event.hash in text
    assert 'name="hash"' not in text
