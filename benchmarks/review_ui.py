"""The review UI under load: 100,000 ads, 20 concurrent officers, gunicorn, SQLite and PostgreSQL.

    python benchmarks/review_ui.py [--db sqlite,postgresql] [--ads 100000] [--clients 20]
                                   [--requests 100] [--workers 3] [--threads 4]
                                   [--pg postgresql://postgres@127.0.0.1:5432/postgres]

For each database it creates a fresh store (a SQLite file in a temporary directory; a new
PostgreSQL database ``tw_bench_<pid>``, dropped at the end), migrates it, fills it with ads
modelled on the labeled corpus (60% flagged and queued, a quarter of those already decided,
contacts shared the way real posters reuse them, an audit row per ad), serves it with gunicorn
(gthread workers), logs in one officer per client, and then runs four phases, each with every
client sending ``--requests`` requests back to back (no think time, so this is the worst case of
20 officers clicking at once):

- floor: an authenticated request that does nothing (the login page, which redirects a
  logged-in officer): session, user and middleware cost, the least any page can take;
- queue: the queue page (page 1 of the pending items, or a page of a filtered view);
- ad: an ad page (text, highlighting, entities, ads sharing a contact, audit trail; it also
  writes the ``ad.viewed`` audit row);
- decide: a decision POST (each client decides its own items).

``--think S`` pauses each client a random time (exponential, mean S seconds) before each
request, as officers reading a page do; without it the clients send back to back, which on two
cores measures saturation rather than response time.

It prints p50/p95/p99 and requests per second for each phase, and each page's p95 as a ratio to
the floor's p95 measured in the same run. The target is p95 ≤ 100 ms for queue, ad and decide.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
# This file shares its name with the package it measures: import the package, not this file.
sys.path[:] = [str(ROOT)] + [p for p in sys.path
                             if Path(p or ".").resolve() != Path(__file__).resolve().parent]
PASSWORD = "benchmark-password-1"
SOURCES = ["bench_classified", "bench_forum", "bench_app", "bench_jobs", "bench_listing"]
REGIONS = ["长沙-雨花区", "长沙-岳麓区", "长沙-天心区", "长沙-开福区", "长沙-芙蓉区", "长沙-望城区"]


# --- Filling the store (runs in a child process, with TUTORWATCH_DB set) ----------------------

def fill(ads: int, clients: int, raw_bytes: int, seed: int = 7) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "review_ui.settings")
    import django

    django.setup()
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils import timezone

    from classifier.corpus import load_split
    from review_ui.models import (
        Ad,
        AdContact,
        AuditEvent,
        Decision,
        ReviewItem,
        Source,
        Verdict,
        priority,
    )
    from review_ui.reasons import DISMISSAL_CODES, VIOLATION_CODES
    from review_ui.roles import OFFICERS, SUPERVISORS, grant

    rng = random.Random(seed)
    corpus = [r for split in ("train", "dev", "test") for r in load_split(split)]
    users = get_user_model().objects
    officers = []
    for i in range(clients):
        user = users.create_user(f"bench{i}", password=PASSWORD)
        grant(user, OFFICERS)
        officers.append(user)
    grant(users.create_user("bench_supervisor", password=PASSWORD), SUPERVISORS)
    sources = [Source.objects.create(name=name, kind="html") for name in SOURCES]

    # A poster reuses a phone across several ads; most numbers appear once or twice.
    phone_pool = [f"13{rng.randrange(10**9):09d}" for _ in range(ads // 2)]
    wechat_pool = [f"wx_{rng.randrange(36**6):06x}" for _ in range(ads // 3)]
    now = timezone.now()
    keys_of: list[list[tuple[str, str]]] = []
    by_key: dict[tuple[str, str], list[int]] = {}
    rows = []
    for n in range(1, ads + 1):
        example = corpus[rng.randrange(len(corpus))]
        phones = [rng.choice(phone_pool)] if rng.random() < 0.8 else []
        wechat = [rng.choice(wechat_pool)] if rng.random() < 0.5 else []
        keys = [("phone", p) for p in phones] + [("wechat", w) for w in wechat]
        keys_of.append(keys)
        for key in keys:
            by_key.setdefault(key, []).append(n)
        flagged = rng.random() < 0.6
        score = rng.uniform(0.55, 0.99) if flagged else rng.uniform(0.01, 0.5)
        rows.append((n, example, phones, wechat, flagged, score,
                     now - timedelta(minutes=rng.randrange(60 * 24 * 120))))
    shares = {}
    for n, keys in enumerate(keys_of, start=1):
        others = set()
        for key in keys:
            others.update(by_key[key])
        others.discard(n)
        shares[n] = len(others)

    boiler = ("<html><head><meta charset=utf-8><title>{t}</title></head><body>"
              "<div class=nav>首页 &gt; 教育培训</div><h1>{t}</h1><div class=desc>{b}</div>"
              "<div class=footer>" + "联系我时请说是在本站看到的。" * 40 + "</div></body></html>")
    chunk = 2000
    reasons_yes, reasons_no = sorted(VIOLATION_CODES), sorted(DISMISSAL_CODES)
    audit_rows = 0
    started = time.perf_counter()
    for start in range(0, len(rows), chunk):
        part = rows[start:start + chunk]
        with transaction.atomic():
            ad_objs, verdicts, contacts, items, decisions, events = [], [], [], [], [], []
            for n, example, phones, wechat, flagged, score, when in part:
                text = example["text"]
                title = text.split("。")[0][:60]
                raw = boiler.format(t=title, b=text).encode()
                raw = (raw + b" " * max(0, raw_bytes - len(raw)))[:max(raw_bytes, len(raw))]
                ad_objs.append(Ad(
                    id=n, url=f"http://bench.example/{n}.html", source=sources[n % len(sources)],
                    title=title, text=text, posted_at=when, fetched_at=when, first_seen_at=when,
                    phones=phones, wechat_ids=wechat, contact_raw=" ".join(phones + wechat),
                    raw_page=raw, raw_sha256=f"{n:064x}", raw_content_type="text/html",
                    raw_encoding="utf-8", text_sha256=f"{n:064x}", verdict_id=n,
                    region=REGIONS[n % len(REGIONS)], contact_shares=shares[n],
                ))
                verdicts.append(Verdict(
                    id=n, ad_id=n, score=score, label=flagged,
                    category=example.get("category") or "", model_version="bench",
                    evidence=[text[2:6], text[10:13]],
                ))
                for kind, value in [("phone", p) for p in phones] + [("wechat", w) for w in wechat]:
                    contacts.append(AdContact(ad_id=n, kind=kind, value=value))
                events.append(AuditEvent(ad_id=n, action="ad.created", at=when))
                if flagged:
                    item = ReviewItem(id=n, ad_id=n, priority=priority(score, when, shares[n]),
                                      created_at=when)
                    if rng.random() < 0.25:
                        officer = rng.choice(officers)
                        confirm = rng.random() < 0.7
                        item.status = (rng.choice(["confirmed", "escalated"]) if confirm
                                       else "dismissed")
                        item.reason = rng.choice(reasons_yes if confirm else reasons_no)
                        item.decided_by, item.decided_at = officer, when + timedelta(hours=5)
                        decisions.append(Decision(item_id=n, officer=officer, decision=item.status,
                                                  reason=item.reason, decided_at=item.decided_at))
                    items.append(item)
            Ad.objects.bulk_create(ad_objs)
            Verdict.objects.bulk_create(verdicts)
            AdContact.objects.bulk_create(contacts)
            ReviewItem.objects.bulk_create(items)
            Decision.objects.bulk_create(decisions)
            AuditEvent.objects.bulk_create(events)
            audit_rows += len(events)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for table in ("review_ui_ad", "review_ui_verdict", "review_ui_reviewitem"):
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                               f"(SELECT MAX(id) FROM {table}))")
            cursor.execute("ANALYZE")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    pending = list(ReviewItem.objects.filter(status="pending").values_list("ad_id", flat=True))
    print(json.dumps({
        "ads": ads, "items": ReviewItem.objects.count(), "pending": len(pending),
        "audit": audit_rows, "fill_seconds": round(time.perf_counter() - started, 1),
        "pending_ad_ids": pending,
    }))


# --- Load (this process) --------------------------------------------------------------------

class Officer:
    """One client: a keep-alive HTTP connection with its own session cookie."""

    def __init__(self, url: str, username: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        self.cookies: dict[str, str] = {}
        self.username = username

    def request(self, method: str, path: str,
                body: dict[str, str] | None = None) -> tuple[int, bytes]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        data = None
        if body is not None:
            data = urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                payload = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                if attempt == 2:
                    raise
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, payload

    def log_in(self) -> None:
        self.request("GET", "/accounts/login/")
        status, _ = self.request("POST", "/accounts/login/", {
            "username": self.username, "password": PASSWORD,
            "csrfmiddlewaretoken": self.cookies["csrftoken"],
        })
        if status != 302:
            raise RuntimeError(f"login of {self.username} failed with {status}")

    def post(self, path: str, data: dict[str, str]) -> int:
        token = self.cookies["csrftoken"]
        return self.request("POST", path, {**data, "csrfmiddlewaretoken": token})[0]


def run_phase(officers: list[Officer], make_request, count: int,
              think: float = 0.0) -> dict[str, float]:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(officers))

    def work(index: int, officer: Officer) -> None:
        mine = []
        pause = random.Random(index)
        barrier.wait()
        for n in range(count):
            if think:
                time.sleep(pause.expovariate(1 / think))
            started = time.perf_counter()
            status, expected = make_request(index, n, officer)
            mine.append(time.perf_counter() - started)
            if status not in expected:
                with lock:
                    errors.append(f"{status}")
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=work, args=(i, o)) for i, o in enumerate(officers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} unexpected responses, e.g. {errors[:5]}")
    ms = sorted(x * 1000 for x in latencies)
    return {
        "p50": statistics.median(ms), "p95": ms[int(0.95 * (len(ms) - 1))],
        "p99": ms[int(0.99 * (len(ms) - 1))], "rps": len(ms) / wall, "n": len(ms),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bench_database(kind: str, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    workdir = Path(tempfile.mkdtemp(prefix=f"tw-bench-{kind}-"))
    pg_name = f"tw_bench_{os.getpid()}"
    if kind == "sqlite":
        db_url = f"sqlite:///{workdir / 'bench.sqlite3'}"
    else:
        import psycopg

        with psycopg.connect(args.pg, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}"')
            conn.execute(f'CREATE DATABASE "{pg_name}"')
        db_url = args.pg.rsplit("/", 1)[0] + f"/{pg_name}"
    env = {**os.environ, "TUTORWATCH_DB": db_url, "TUTORWATCH_DATA_DIR": str(workdir),
           "DJANGO_SETTINGS_MODULE": "review_ui.settings",
           "TUTORWATCH_SECRET_KEY": "benchmark-only-secret-key-" + "x" * 40}
    server = None
    try:
        subprocess.run([sys.executable, "-m", "review_ui.cli", "migrate", "-v", "0"],
                       env=env, cwd=ROOT, check=True)
        done = subprocess.run(
            [sys.executable, __file__, "--fill", "--ads", str(args.ads), "--clients",
             str(args.clients), "--raw-bytes", str(args.raw_bytes)],
            env=env, cwd=ROOT, capture_output=True, text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"filling the store failed:\n{done.stderr[-3000:]}")
        filled = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"[{kind}] filled {filled['ads']:,} ads, {filled['items']:,} review items "
              f"({filled['pending']:,} pending), {filled['audit']:,} audit rows "
              f"in {filled['fill_seconds']} s", flush=True)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "review_ui.wsgi:application",
             "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers),
             "--worker-class", "gthread", "--threads", str(args.threads),
             "--keep-alive", "30", "--log-level", "warning"],
            env=env, cwd=ROOT,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                probe = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                probe.request("GET", "/accounts/login/")
                probe.getresponse().read()
                probe.close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.3)
        officers = [Officer(url, f"bench{i}") for i in range(args.clients)]
        for officer in officers:
            officer.log_in()
        rng = random.Random(11)
        pending = filled["pending_ad_ids"]
        rng.shuffle(pending)
        per_client = args.requests
        # Each client views ads and decides items from its own slice of the pending ones.
        slices: list[list[int]] = []
        item_of_ad = {ad_id: ad_id for ad_id in pending}  # the fill gave items their ad's id
        filters = [{}, {}, {}, {"source": "bench_forum"}, {"score_min": "0.8"},
                   {"region": "长沙-雨花区"}, {"page": "3"}]

        def floor(i: int, n: int, o: Officer):
            return o.request("GET", "/accounts/login/")[0], (302,)

        def queue(i: int, n: int, o: Officer):
            params = filters[(i + n) % len(filters)]
            path = "/" + (f"?{urlencode(params)}" if params else "")
            return o.request("GET", path)[0], (200,)

        def ad(i: int, n: int, o: Officer):
            return o.request("GET", f"/ads/{slices[i][n]}/")[0], (200,)

        def decide(i: int, n: int, o: Officer):
            item = item_of_ad[slices[i][n]]
            data = ({"decision": "confirmed", "reason": "open_tutoring", "note": "bench"}
                    if n % 3 else {"decision": "dismissed", "reason": "adult"})
            return o.post(f"/items/{item}/decide/", data), (302,)

        run_phase(officers, floor, 10)  # warm every worker and connection
        results = {"load_before": os.getloadavg()[0]}
        for round_, think in enumerate(args.think):
            # Each round decides fresh items: shift every client's slice along.
            offset = round_ * per_client * args.clients
            slices = [pending[offset + i * per_client:offset + (i + 1) * per_client]
                      for i in range(args.clients)]
            pacing = f"think {think:g} s" if think else "back to back"
            for name, make in (("floor", floor), ("queue", queue), ("ad", ad),
                               ("decide", decide)):
                key = f"{name}@{think:g}"
                results[key] = r = run_phase(officers, make, per_client, think)
                print(f"[{kind}, {pacing}] {name:<6} p50 {r['p50']:7.1f} ms  p95 {r['p95']:7.1f} ms"
                      f"  p99 {r['p99']:7.1f} ms  {r['rps']:6.0f} req/s  ({r['n']} requests)",
                      flush=True)
        for officer in officers:
            officer.conn.close()
        results["load_after"] = os.getloadavg()[0]
        print(f"[{kind}] load average (1 min) before {results['load_before']:.1f}, "
              f"after {results['load_after']:.1f}", flush=True)
        return results
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        if kind == "postgresql":
            import psycopg

            with psycopg.connect(args.pg, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="sqlite,postgresql",
                        help="comma-separated: sqlite, postgresql")
    parser.add_argument("--ads", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=100, help="per client and phase")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--raw-bytes", type=int, default=4000, help="size of each stored page")
    parser.add_argument("--think", default="0,1",
                        help="comma-separated mean pauses (s, exponential) between a client's "
                             "requests, one round each; 0: back to back")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="a PostgreSQL server to create the benchmark database on")
    parser.add_argument("--fill", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.think = [float(t) for t in str(args.think).split(",") if t.strip()]
    # Stopped with SIGTERM: still stop gunicorn and drop the benchmark database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    if args.fill:
        fill(args.ads, args.clients, args.raw_bytes)
        return
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, python "
          f"{platform.python_version()}; {args.ads:,} ads, {args.clients} concurrent clients, "
          f"{args.requests} requests each per phase, think times {args.think} s; gunicorn "
          f"{args.workers} workers × {args.threads} threads", flush=True)
    summary = {}
    for kind in [k.strip() for k in args.db.split(",") if k.strip()]:
        if kind not in ("sqlite", "postgresql"):
            parser.error(f"unknown database {kind!r}")
        summary[kind] = bench_database(kind, args)
    print("\np95 (ms), its ratio to the floor's p95 (an authenticated no-op request) in the same "
          "round, and the 100 ms target:")
    for kind, results in summary.items():
        for think in args.think:
            floor = results[f"floor@{think:g}"]["p95"]
            cells = "  ".join(
                f"{name} {results[f'{name}@{think:g}']['p95']:6.1f} "
                f"({results[f'{name}@{think:g}']['p95'] / floor:4.1f}×)"
                f"{' ok' if results[f'{name}@{think:g}']['p95'] <= 100 else ' MISSED'}"
                for name in ("queue", "ad", "decide")
            )
            print(f"  {kind:<10} think {think:g} s  floor {floor:5.1f}  {cells}")


if __name__ == "__main__":
    main()
