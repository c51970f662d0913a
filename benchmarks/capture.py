"""Screenshots beside a crawl: a crawl that flags 100 ads with screenshots off and on, and how
fast the capture worker catches up (issue 17, point 1).

    python benchmarks/capture.py [--ads 100] [--repeat 2] [--rate 0]
                                 [--db postgresql://postgres@127.0.0.1:5432/tw_bench]

The site (``tests/crawler/capture_site.py``) serves one list page and ``--ads`` tutoring ads on
127.0.0.1; each crawl goes into a fresh store (a SQLite file, or a PostgreSQL database created
and dropped). The modes alternate, ``--repeat`` times each. For each crawl: the wall time of
``tutorwatch crawl`` and of its run, the ads flagged; with screenshots on, the captures done
when the crawl ended, how long after it the worker finished, and the worker's captures per
minute (``--rate`` is ``TUTORWATCH_CAPTURE_RATE``; 0, the default here, measures the machine).
The crawl's worker runs at the lowest CPU priority; last, ``tutorwatch capture`` catches up on
the last crawl with screenshots off at normal priority, for the captures per minute of a worker
that does not give way.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.processes import pid_alive  # noqa: E402
from tests.crawler import store_view  # noqa: E402
from tests.crawler.capture_site import SOURCE, CaptureSite  # noqa: E402


def new_store(workdir: Path, pg: str | None, label: str, created: list[str]) -> str:
    if not pg:
        return f"sqlite:///{workdir / f'{label}.sqlite3'}"
    import psycopg

    admin = pg.rsplit("/", 1)[0] + "/postgres"
    name = f"tw_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    created.append(name)
    return pg.rsplit("/", 1)[0] + f"/{name}"


def drop(pg: str | None, created: list[str]) -> None:
    if not pg:
        return
    import psycopg

    admin = pg.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in created:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def one_crawl(source: Path, workdir: Path, db: str, on: bool, rate: float) -> dict[str, float]:
    env = {**os.environ, "TUTORWATCH_DB": db, "TUTORWATCH_DATA_DIR": str(workdir / "data"),
           "DJANGO_SETTINGS_MODULE": "review_ui.settings", "TUTORWATCH_CRAWL_LOG_LEVEL": "WARNING",
           "TUTORWATCH_ALLOW_NETWORKS": "127.0.0.0/8", "TUTORWATCH_SAMPLE_RATE": "0",
           "TUTORWATCH_CAPTURE": "1" if on else "0", "TUTORWATCH_CAPTURE_RATE": str(rate)}
    cli = [sys.executable, "-m", "review_ui.cli"]
    subprocess.run([*cli, "migrate", "-v", "0"], env=env, cwd=ROOT, check=True)
    started = time.monotonic()
    done = subprocess.run([*cli, "crawl", "--source", str(source)], env=env, cwd=ROOT,
                          capture_output=True, text=True)
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"crawl failed:\n{done.stdout}\n{done.stderr[-3000:]}")
    ended = time.monotonic()
    (run_seconds,) = store_view.query(db, """
        SELECT finished_at, started_at FROM review_ui_crawlrun ORDER BY id DESC LIMIT 1""")
    run_seconds = _seconds(*run_seconds)
    flagged = _one(db, """SELECT count(*) FROM review_ui_ad a
                          JOIN review_ui_verdict v ON v.id = a.verdict_id WHERE v.label""")
    found: dict[str, float] = {"wall": wall, "run": run_seconds, "flagged": flagged}
    if not on:
        return found | {"db": db}  # type: ignore[dict-item]
    found["ok_at_end"] = _one(db, "SELECT count(*) FROM review_ui_screenshot WHERE status='ok'")
    _, stats = store_view.last_run_stats(db)
    worker = int(stats["tutorwatch/capture/worker_pid"])
    while pid_alive(worker):
        time.sleep(0.2)
    found["lag"] = time.monotonic() - ended
    found["ok"] = _one(db, "SELECT count(*) FROM review_ui_screenshot WHERE status='ok'")
    found["failed"] = _one(db, "SELECT count(*) FROM review_ui_screenshot WHERE status='failed'")
    (first_request, first, last) = store_view.query(db, """
        SELECT min(requested_at), min(captured_at), max(captured_at) FROM review_ui_screenshot
    """)[0]
    found["first_after"] = _seconds(first, first_request)
    span = _seconds(last, first)
    found["per_minute"] = (found["ok"] - 1) / span * 60 if span > 0 else float("nan")
    return found


def catch_up(workdir: Path, db: str, rate: float) -> tuple[float, str]:
    """``tutorwatch capture`` on a store whose captures all wait: (seconds, its last line)."""
    env = {**os.environ, "TUTORWATCH_DB": db, "TUTORWATCH_DATA_DIR": str(workdir / "data"),
           "DJANGO_SETTINGS_MODULE": "review_ui.settings", "TUTORWATCH_ALLOW_NETWORKS":
           "127.0.0.0/8"}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "review_ui.cli", "capture", "--rate", str(rate)],
                          env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    return time.monotonic() - started, done.stdout.strip().splitlines()[-1]


def _one(db: str, sql: str) -> float:
    return float(store_view.query(db, sql)[0][0])


def _seconds(later: object, earlier: object) -> float:
    from datetime import datetime

    def parse(value: object) -> datetime:
        return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))

    return (parse(later) - parse(earlier)).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ads", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--db", default=None, help="a PostgreSQL URL (default: SQLite files)")
    args = parser.parse_args()
    if not (os.environ.get("TUTORWATCH_CHROMIUM") or shutil.which("chromium")):
        raise SystemExit("no Chromium: install Debian's chromium or set TUTORWATCH_CHROMIUM")

    site = CaptureSite("127.0.0.1", ads=args.ads)
    created: list[str] = []
    results: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            source = workdir / "capture_site.yaml"
            source.write_text(SOURCE.format(base=site.url), encoding="utf-8")
            for n in range(args.repeat):
                for on in (False, True):
                    db = new_store(workdir, args.db, f"{'on' if on else 'off'}{n}", created)
                    got = one_crawl(source, workdir, db, on, args.rate)
                    results[on].append(got)
                    print(f"screenshots {'on ' if on else 'off'} #{n + 1}: "
                          + ", ".join(f"{k} {v:.1f}" for k, v in got.items() if k != "db"),
                          flush=True)
            last_off = results[False][-1]["db"]
            seconds, line = catch_up(workdir, str(last_off), args.rate)
            window = store_view.query(str(last_off), """
                SELECT count(*), min(captured_at), max(captured_at) FROM review_ui_screenshot
                WHERE status = 'ok'""")[0]
            per_minute = ((window[0] - 1) / _seconds(window[2], window[1]) * 60
                          if window[0] > 1 else float("nan"))
    finally:
        site.stop()
        drop(args.db, created)

    print(f"\n{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{'PostgreSQL' if args.db else 'SQLite'}; {args.ads} ads, rate {args.rate:g}/min")
    off, on = results[False], results[True]
    for label, key in (("crawl command, s", "wall"), ("crawl run, s", "run")):
        a, b = statistics.median(r[key] for r in off), statistics.median(r[key] for r in on)
        print(f"{label}: off {a:.1f}, on {b:.1f} (on/off {b / a:.2f})")
    print(f"flagged: {statistics.median(r['flagged'] for r in on):.0f}; captured when the crawl "
          f"ended: {statistics.median(r['ok_at_end'] for r in on):.0f}; "
          f"worker done {statistics.median(r['lag'] for r in on):.1f} s after the crawl; "
          f"captured {statistics.median(r['ok'] for r in on):.0f}, "
          f"failed {statistics.median(r['failed'] for r in on):.0f}; "
          f"first capture {statistics.median(r['first_after'] for r in on):.1f} s after its "
          f"request; {statistics.median(r['per_minute'] for r in on):.0f} captures/min "
          f"(lowest priority, beside the crawl and after it)")
    print(f"tutorwatch capture (normal priority) on the last store with screenshots off: "
          f"{seconds:.0f} s in all, {per_minute:.0f} captures/min; {line}")


if __name__ == "__main__":
    main()
