"""The audit log's hash chain: ``tutorwatch audit verify`` on many rows, and what chaining adds
to each append. SQLite and PostgreSQL.

    python benchmarks/audit_chain.py [--db sqlite,postgresql] [--rows 100000] [--appends 2000]
                                     [--pg postgresql://postgres@127.0.0.1:5432/postgres]

For each database it creates a fresh store (a SQLite file in a temporary directory; a new
PostgreSQL database ``tw_bench_audit_<pid>``, dropped at the end), migrates it and fills it with
``--rows`` audit rows through ``AuditEvent.objects.bulk_create`` (chained, 5000 a call), with
details like the real ones (``ad.viewed`` with an ip, ``item.decided`` with a reason and a note,
``ad.created`` with a run). Then, in the same run:

- verify: ``audit_chain.verify`` over every row (what the command does), against the floor:
  reading the same columns in the same chunks without hashing;
- append: ``AuditEvent.record`` one row at a time, each in its own transaction, against the
  floor: the same insert without the chain (``Model.save`` with made-up hashes, so these rows
  are added last and never verified);
- parallel: the same, by 4 threads with their own connections at once (appends are serialised
  by the chain's lock on PostgreSQL; SQLite serialises every write anyway).

It prints the times and each as a ratio to its floor.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# benchmarks/review_ui.py would shadow the package: import from the checkout, not this folder.
sys.path[:] = [str(ROOT)] + [p for p in sys.path
                             if Path(p or ".").resolve() != Path(__file__).resolve().parent]
CHUNK = 5000
THREADS = 4


def child(rows: int, appends: int) -> dict[str, float]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "review_ui.settings")
    import django

    django.setup()
    import uuid

    from django.core.management import call_command
    from django.db import models

    from review_ui import audit_chain
    from review_ui.models import AuditEvent

    call_command("migrate", verbosity=0)

    def event(i: int) -> AuditEvent:
        kind = i % 3
        if kind == 0:
            return AuditEvent(action="ad.viewed", ad_id=None, detail={"ip": f"10.0.{i % 250}.7"})
        if kind == 1:
            return AuditEvent(action="item.decided", detail={
                "decision": "confirmed", "reason": "open_tutoring",
                "note": "周末小班，初二数学，家长群里转发的广告" * 2, "case": f"2026-{i:06d}"})
        return AuditEvent(action="ad.created", detail={"run": i // 100})

    started = time.perf_counter()
    for start in range(0, rows, CHUNK):
        AuditEvent.objects.bulk_create(event(i) for i in range(start, min(rows, start + CHUNK)))
    fill = time.perf_counter() - started

    started = time.perf_counter()
    result = audit_chain.verify(AuditEvent, chunk=CHUNK)
    verify = time.perf_counter() - started
    assert result.problem is None and result.checked == rows, result

    started = time.perf_counter()
    read, last = 0, None
    columns = AuditEvent._base_manager.order_by("pk").values_list(*audit_chain.FIELDS)
    while batch := list((columns if last is None else columns.filter(pk__gt=last))[:CHUNK]):
        read += len(batch)
        last = batch[-1][0]
    floor_read = time.perf_counter() - started
    assert read == rows

    started = time.perf_counter()
    for i in range(appends):
        AuditEvent.record(None, "ad.viewed", detail={"ip": f"10.1.{i % 250}.9"})
    append = time.perf_counter() - started

    started = time.perf_counter()
    for i in range(appends):
        plain = AuditEvent(action="ad.viewed", detail={"ip": f"10.2.{i % 250}.9"},
                           prev_hash=uuid.uuid4().hex, hash=uuid.uuid4().hex)
        models.Model.save(plain, force_insert=True)
    floor_append = time.perf_counter() - started

    def parallel(write) -> float:
        import threading

        from django.db import connections

        start = threading.Barrier(THREADS + 1)

        def run(n: int) -> None:
            start.wait()
            for i in range(appends // THREADS):
                write(n, i)
            connections.close_all()

        threads = [threading.Thread(target=run, args=(n,)) for n in range(THREADS)]
        for thread in threads:
            thread.start()
        start.wait()
        started = time.perf_counter()
        for thread in threads:
            thread.join()
        return time.perf_counter() - started

    def unchained(n: int, i: int) -> None:
        models.Model.save(AuditEvent(action="ad.viewed", detail={"ip": f"10.{n}.{i % 250}.9"},
                                     prev_hash=uuid.uuid4().hex, hash=uuid.uuid4().hex),
                          force_insert=True)

    floor_parallel = parallel(unchained)
    chained_parallel = parallel(
        lambda n, i: AuditEvent.record(None, "ad.viewed", detail={"ip": f"10.{n}.{i % 250}.8"}))
    return {"fill": fill, "verify": verify, "floor_read": floor_read, "append": append,
            "floor_append": floor_append, "parallel": chained_parallel,
            "floor_parallel": floor_parallel}


def run(db: str, args: argparse.Namespace) -> dict[str, float]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "review_ui.settings"}
    with tempfile.TemporaryDirectory() as tmp:
        env["TUTORWATCH_DATA_DIR"] = tmp
        drop = None
        if db == "sqlite":
            env["TUTORWATCH_DB"] = f"sqlite:///{tmp}/bench.sqlite3"
        else:
            import psycopg

            name = f"tw_bench_audit_{os.getpid()}"
            with psycopg.connect(args.pg, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            env["TUTORWATCH_DB"] = args.pg.rsplit("/", 1)[0] + f"/{name}"
            drop = name
        try:
            done = subprocess.run(
                [sys.executable, __file__, "--child", "--rows", str(args.rows),
                 "--appends", str(args.appends)],
                env=env, cwd=ROOT, capture_output=True, text=True,
            )
            if done.returncode:
                raise SystemExit(f"{db}: the measuring process failed\n{done.stderr[-3000:]}")
        finally:
            if drop:
                with psycopg.connect(args.pg, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{drop}" WITH (FORCE)')
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.rows, args.appends)))
        return
    for db in args.db.split(","):
        t = run(db, args)
        print(f"{db}: {args.rows:,} rows")
        print(f"  fill (bulk_create, chained)  {t['fill']:7.2f} s  "
              f"({args.rows / t['fill']:,.0f} rows/s)")
        print(f"  verify                       {t['verify']:7.2f} s  "
              f"({args.rows / t['verify']:,.0f} rows/s), x{t['verify'] / t['floor_read']:.2f} "
              f"the floor (reading the rows: {t['floor_read']:.2f} s)")
        print(f"  append, one row a transaction {t['append'] / args.appends * 1000:6.2f} ms, "
              f"x{t['append'] / t['floor_append']:.2f} the floor "
              f"(unchained: {t['floor_append'] / args.appends * 1000:.2f} ms)")
        print(f"  append, {THREADS} threads at once  {args.appends / t['parallel']:6.0f} rows/s, "
              f"x{t['parallel'] / t['floor_parallel']:.2f} the floor's time "
              f"(unchained: {args.appends / t['floor_parallel']:.0f} rows/s)")


if __name__ == "__main__":
    main()
