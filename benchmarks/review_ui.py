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
the floor's p95 measured in the same run. The target is p95 ≤ 50 ms for queue, ad and decide.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
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
from typing import Any
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
# This file shares its name with the package it measures: import the package, not this file.
sys.path[:] = [str(ROOT)] + [p for p in sys.path
                             if Path(p or ".").resolve() != Path(__file__).resolve().parent]
PASSWORD = "benchmark-password-1"
SOURCES = ["bench_classified", "bench_forum", "bench_app", "bench_jobs", "bench_listing"]
TARGET_MS = 50
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
                                      score=score, created_at=when)
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
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=600)
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
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=600)
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
              think: float = 0.0) -> dict[str, Any]:
    """Every officer sends ``count`` requests (after a pause of mean ``think`` s each); the
    latencies' p50/p95/p99, and per label when ``make_request`` returns one."""
    latencies: list[tuple[str, float]] = []
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
            status, expected, *label = make_request(index, n, officer)
            mine.append((label[0] if label else "", time.perf_counter() - started))
            if status not in expected:
                with lock:
                    errors.append(f"{status} {label}")
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
    result: dict[str, Any] = percentiles([x * 1000 for _, x in latencies])
    result["rps"] = len(latencies) / wall
    labels = sorted({label for label, _ in latencies if label})
    result["by"] = {label: percentiles([x * 1000 for name, x in latencies if name == label])
                    for label in labels}
    return result


def percentiles(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return {"p50": statistics.median(ms), "p95": ms[int(0.95 * (len(ms) - 1))],
            "p99": ms[int(0.99 * (len(ms) - 1))], "n": len(ms)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def worker_rss(server: subprocess.Popen) -> dict[int, int]:
    """Resident memory (kB) of each gunicorn worker (the children of the arbiter)."""
    out = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines()
                          if ":" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(server.pid) and "VmRSS" in fields:
            out[int(status.parent.name)] = int(fields["VmRSS"].split()[0])
    return out


def measure_export(url: str, officer: Officer, server: subprocess.Popen,
                   query: str) -> dict[str, float]:
    """One case export (CSV) read as a browser does: time to the first byte of the body, to
    the end, the bytes and rows, and the most any worker's resident memory grew meanwhile."""
    before = worker_rss(server)
    peak = dict(before)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            for pid, kb in worker_rss(server).items():
                peak[pid] = max(peak.get(pid, 0), kb)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=600)
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in officer.cookies.items())}
    started = time.perf_counter()
    conn.request("GET", f"/export/cases.csv?{query}", headers=headers)
    response = conn.getresponse()
    first = response.read1(65536) if response.status == 200 else response.read()
    first_byte = time.perf_counter() - started
    size, lines = len(first), first.count(b"\n")
    while chunk := response.read1(1 << 20):
        size += len(chunk)
        lines += chunk.count(b"\n")
    total = time.perf_counter() - started
    done.set()
    sampler.join()
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"the export answered {response.status}: {first[:300]!r}")
    growth = max((peak[pid] - before.get(pid, peak[pid]) for pid in peak), default=0)
    return {"first_byte_ms": first_byte * 1000, "total_s": total, "mb": size / 1e6,
            "lines": lines, "rss_growth_mb": growth / 1024,
            "rss_peak_mb": max(peak.values(), default=0) / 1024}


def fill_store(ads: int, clients: int) -> dict:
    """In the child process: the store filled by ``benchmarks/million.py`` (bulk SQL), with
    the ids of the pending items for the load to decide."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "review_ui.settings")
    import django

    django.setup()
    from review_ui.models import AdContact, ReviewItem

    spec = importlib.util.spec_from_file_location("bench_million",
                                                  ROOT / "benchmarks" / "million.py")
    million = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(million)
    filled = million.fill(ads, clients)
    return {**filled, **store_facts(ReviewItem, AdContact)}


def store_facts(ReviewItem, AdContact) -> dict:  # noqa: N803 (models, passed in)
    pending = list(ReviewItem.objects.filter(status="pending").values_list("ad_id", flat=True))
    phones = list(AdContact.objects.filter(kind="phone", ad_id__lte=20000)
                  .values_list("value", flat=True).distinct()[:2000])
    return {"pending_ad_ids": pending, "phones": phones,
            "confirmed": ReviewItem.objects.filter(status="confirmed").count()}


def existing_store() -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "review_ui.settings")
    import django

    django.setup()
    from review_ui.models import Ad, AdContact, ReviewItem

    return {"ads": Ad.objects.count(), "items": ReviewItem.objects.count(), "fill_seconds": 0,
            **store_facts(ReviewItem, AdContact)}


def bench_database(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"tw-bench-{kind}-"))
    pg_name = args.keep or f"tw_bench_{os.getpid()}"
    reuse = False
    if kind == "sqlite":
        path = Path(args.sqlite_keep) if args.sqlite_keep else workdir / "bench.sqlite3"
        reuse = path.exists()
        db_url = f"sqlite:///{path}"
    else:
        import psycopg

        with psycopg.connect(args.pg, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                  [pg_name]).fetchone()
            reuse = bool(args.keep and exists)
            if not reuse:
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
        mode = "--existing" if reuse else "--fill"
        done = subprocess.run(
            [sys.executable, __file__, mode, "--ads", str(args.ads), "--clients",
             str(args.clients), "--raw-bytes", str(args.raw_bytes),
             "--generator", args.generator],
            env=env, cwd=ROOT, capture_output=True, text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"filling the store failed:\n{done.stderr[-3000:]}")
        filled = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"[{kind}] {'reused' if reuse else 'filled'} {filled['ads']:,} ads, "
              f"{filled.get('counts', {}).get('ReviewItem', filled.get('items', 0)):,} review "
              f"items ({len(filled['pending_ad_ids']):,} pending, {filled['confirmed']:,} "
              f"confirmed) in {filled['fill_seconds']} s {filled.get('steps', '')}", flush=True)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "review_ui.wsgi:application",
             "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers),
             "--worker-class", "gthread", "--threads", str(args.threads),
             "--keep-alive", "30", "--timeout", "600", "--log-level", "warning"],
            env=env, cwd=ROOT,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 300  # a loaded machine starts slowly
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
        supervisors = [Officer(url, "bench_supervisor") for _ in range(args.clients)]
        for officer in officers + supervisors:
            officer.log_in()
        rng = random.Random(11)
        pending = filled["pending_ad_ids"]
        rng.shuffle(pending)
        phones = filled["phones"]
        per_client = args.requests
        slices: list[list[int]] = []
        item_of_ad = {ad_id: ad_id for ad_id in pending}  # the fills give items their ad's id
        views = queue_views()

        def floor(i: int, n: int, o: Officer):
            return o.request("GET", "/accounts/login/")[0], (302,)

        def queue(i: int, n: int, o: Officer):
            label, params = views[(i * 7 + n) % len(views)]
            return o.request("GET", "/?" + urlencode(params))[0], (200,), label

        def ad(i: int, n: int, o: Officer):
            return o.request("GET", f"/ads/{slices[i][n]}/")[0], (200,)

        def decide(i: int, n: int, o: Officer):
            item = item_of_ad[slices[i][n]]
            data = ({"decision": "confirmed", "reason": "open_tutoring", "note": "bench"}
                    if n % 3 else {"decision": "dismissed", "reason": "adult"})
            return o.post(f"/items/{item}/decide/", data), (302,)

        def dashboard(i: int, n: int, o: Officer):
            return supervisors[i % len(supervisors)].request("GET", "/dashboard/")[0], (200,)

        def search(i: int, n: int, o: Officer):
            phone = phones[(i * per_client + n) % len(phones)]
            return o.request("GET", "/search/?" + urlencode({"q": phone}))[0], (200,)

        phases = (("floor", floor, 1), ("queue", queue, args.queue_factor), ("ad", ad, 1),
                  ("decide", decide, 1), ("dashboard", dashboard, 1), ("search", search, 1))
        run_phase(officers, floor, 10)  # warm every worker and connection
        run_phase(supervisors, floor, 2)
        results: dict[str, Any] = {"load_before": os.getloadavg()[0], "filled": {
            k: v for k, v in filled.items() if k not in ("pending_ad_ids", "phones")}}
        for round_, think in enumerate(args.think):
            # Each round decides fresh items: shift every client's slice along.
            offset = round_ * per_client * args.clients
            slices = [pending[offset + i * per_client:offset + (i + 1) * per_client]
                      for i in range(args.clients)]
            pacing = f"think {think:g} s" if think else "back to back"
            for name, make, factor in phases:
                if name not in args.phases:
                    continue
                if name == "dashboard" and round_ == 0:
                    # Warm each worker's figures (built once per TUTORWATCH_DASHBOARD_SECONDS):
                    # the phase measures the page as supervisors see it, not the first build.
                    started = time.perf_counter()
                    run_phase(supervisors[:args.workers * args.threads], dashboard, 1)
                    print(f"[{kind}] dashboard figures built in "
                          f"{time.perf_counter() - started:.1f} s (warm-up)", flush=True)
                key = f"{name}@{think:g}"
                results[key] = r = run_phase(officers, make, per_client * factor, think)
                print(f"[{kind}, {pacing}] {name:<9} p50 {r['p50']:7.1f} ms  p95 {r['p95']:7.1f}"
                      f" ms  p99 {r['p99']:7.1f} ms  {r['rps']:6.0f} req/s  ({r['n']} requests)",
                      flush=True)
                for label, b in r["by"].items():
                    print(f"    {label:<22} p50 {b['p50']:7.1f}  p95 {b['p95']:7.1f}  "
                          f"p99 {b['p99']:7.1f}  ({b['n']})", flush=True)
        if "export" in args.phases:
            results["export"] = e = measure_export(url, officers[0], server, args.export_query)
            print(f"[{kind}] export ?{args.export_query}: {e['lines'] - 1:,} rows, "
                  f"{e['mb']:.0f} MB, first byte {e['first_byte_ms']:.0f} ms, all in "
                  f"{e['total_s']:.1f} s, worker memory grew {e['rss_growth_mb']:.0f} MB "
                  f"(peak {e['rss_peak_mb']:.0f} MB)", flush=True)
        for officer in officers + supervisors:
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
        if kind == "postgresql" and not args.keep:
            import psycopg

            with psycopg.connect(args.pg, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
        shutil.rmtree(workdir, ignore_errors=True)


def queue_views() -> list[tuple[str, dict[str, str]]]:
    """The queue as officers open it: each order, and each filter on the default order."""
    month_ago = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 30 * 86400))
    return [
        ("order=priority", {}), ("order=uncertain", {"order": "uncertain"}),
        ("order=score", {"order": "score"}), ("order=newest", {"order": "newest"}),
        ("page=5", {"page": "5"}), ("source", {"source": "bench_forum_00"}),
        ("category", {"category": "open_tutoring"}), ("region", {"region": "长沙-雨花区"}),
        ("score_min=0.9", {"score_min": "0.9"}), ("score_max=0.6", {"score_max": "0.6"}),
        ("date_from=30 days", {"date_from": month_ago}), ("q=数学", {"q": "数学"}),
        ("status=confirmed", {"status": "confirmed"}),
        ("status=dismissed", {"status": "dismissed"}),
        ("mine", {"mine": "on"}),
        ("source+newest", {"source": "bench_app_02", "order": "newest"}),
    ]


PHASES = "floor,queue,ad,decide,dashboard,search,export"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="postgresql,sqlite",
                        help="comma-separated: sqlite, postgresql")
    parser.add_argument("--ads", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=30, help="per client and phase")
    parser.add_argument("--queue-factor", type=int, default=3,
                        help="the queue phase sends this many times --requests (16 views)")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--raw-bytes", type=int, default=4000,
                        help="size of each stored page (--generator orm only)")
    parser.add_argument("--generator", choices=["sql", "orm"], default="sql",
                        help="sql: benchmarks/million.py (bulk SQL, minutes for 1M ads); "
                             "orm: the older fill of this file (an hour for 1M)")
    parser.add_argument("--think", default="1,0",
                        help="comma-separated mean pauses (s, exponential) between a client's "
                             "requests, one round each; 0: back to back")
    parser.add_argument("--phases", default=PHASES, help=f"comma-separated, of {PHASES}")
    parser.add_argument("--export-query", default="status=confirmed",
                        help="the queue filter of the measured case export")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="a PostgreSQL server to create the benchmark database on")
    parser.add_argument("--keep", default="",
                        help="PostgreSQL database name to keep (and reuse when it exists)")
    parser.add_argument("--sqlite-keep", default="",
                        help="SQLite file to keep (and reuse when it exists)")
    parser.add_argument("--json", default="", help="write every figure to this file")
    parser.add_argument("--fill", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--existing", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.think = [float(t) for t in str(args.think).split(",") if t.strip()]
    args.phases = {p.strip() for p in args.phases.split(",") if p.strip()}
    # Stopped with SIGTERM: still stop gunicorn and drop the benchmark database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    if args.existing:
        print(json.dumps(existing_store()))
        return
    if args.fill:
        if args.generator == "orm":
            fill(args.ads, args.clients, args.raw_bytes)
        else:
            print(json.dumps(fill_store(args.ads, args.clients), ensure_ascii=False))
        return
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, python "
          f"{platform.python_version()}; {args.ads:,} ads, {args.clients} concurrent clients, "
          f"{args.requests} requests each per phase, think times {args.think} s; gunicorn "
          f"{args.workers} workers × {args.threads} threads; load {os.getloadavg()}", flush=True)
    summary = {}
    for kind in [k.strip() for k in args.db.split(",") if k.strip()]:
        if kind not in ("sqlite", "postgresql"):
            parser.error(f"unknown database {kind!r}")
        summary[kind] = bench_database(kind, args)
    print(f"\np95 (ms), its ratio to the floor's p95 (an authenticated no-op request) in the same "
          f"round, and the {TARGET_MS:g} ms target:")
    for kind, results in summary.items():
        for think in args.think:
            if f"floor@{think:g}" not in results:
                continue
            floor = results[f"floor@{think:g}"]["p95"]
            cells = "  ".join(
                f"{name} {results[f'{name}@{think:g}']['p95']:6.1f} "
                f"({results[f'{name}@{think:g}']['p95'] / floor:4.1f}×)"
                f"{' ok' if results[f'{name}@{think:g}']['p95'] <= TARGET_MS else ' MISSED'}"
                for name in ("queue", "ad", "decide", "dashboard", "search")
                if f"{name}@{think:g}" in results
            )
            print(f"  {kind:<10} think {think:g} s  floor {floor:5.1f}  {cells}")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1, default=str))


if __name__ == "__main__":
    main()
