"""The search box on PostgreSQL over a large store: how long a phone search takes.

    python benchmarks/search.py [--ads 1000000] [--repeat 300] [--trigram]
                                [--pg postgresql://postgres@127.0.0.1:5432/postgres]

It creates a new PostgreSQL database (``tw_search_bench_<pid>``, dropped at the end; ``--keep
NAME`` keeps it for the next run), migrates it and fills it with the generator of
``benchmarks/review_ui.py`` (``--generate`` ads modelled on the labeled corpus, 60% flagged and
queued, a quarter of those decided, phones and WeChat ids shared the way posters reuse them, an
audit row per ad), copies those ads by SQL up to ``--ads`` (new ids, URLs, phones and WeChat
ids, with their contact index rows: generating a million ads takes an hour on two shared
cores), and adds cases for a third of the escalated items, 5,000 listed institutions and 10,000
leads (complaints naming phones the ads carry).
Then, in one process with Django set up as the review UI is:

- floor, store: one ad by primary key (``Ad.objects.filter(pk=…)``), the least a lookup costs;
- phone, store: ``review_ui.search.search`` for a stored phone, spelt a different way each
  time (``+86 139 1234 5678``, ``0086-139-1234-5678``, full-width digits, ``8613912345678``),
  over every kind a supervisor sees (ads, leads, cases, institutions);
- floor, API: ``GET /api/v1/ads/{id}/`` with a token (authentication, DRF, one ad by primary
  key and its audit row) through Django's test client, in process;
- phone, API: ``GET /api/v1/search/?q=`` for the same phones (it writes an audit row too);
- words, store: a common word (found at once), two words, and a word no ad holds (a scan of
  every ad: the worst case of a text search, stopped at ``TEXT_SEARCH_SECONDS``), among ads,
  and a common word over every kind (cases too), fewer repetitions;

and prints p50/p95/p99 of each and the phone search's p95 against the floor's and the 100 ms
target (issue 17). With ``--trigram`` it then creates the ``pg_trgm`` extension and trigram
indexes over the ads' titles and texts, says how long that took and how big they are, measures
the word searches again, and drops the indexes.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path
                             if Path(p or ".").resolve() != Path(__file__).resolve().parent]
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def _generator():
    """``benchmarks/review_ui.py``'s fill, loaded by path (its name is the package's)."""
    spec = importlib.util.spec_from_file_location("bench_review_ui",
                                                  ROOT / "benchmarks" / "review_ui.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def spellings(phone: str, n: int) -> str:
    """The n-th way of writing ``phone`` that people type."""
    a, b, c = phone[:3], phone[3:7], phone[7:]
    ways = [f"+86 {a} {b} {c}", f"0086-{a}-{b}-{c}", phone.translate(FULL_WIDTH),
            f"86{phone}", f"{a}-{b}-{c}", f"({a}) {b}.{c}", phone]
    return ways[n % len(ways)]


def stats(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return {"p50": statistics.median(ms), "p95": ms[int(0.95 * (len(ms) - 1))],
            "p99": ms[int(0.99 * (len(ms) - 1))], "n": len(ms)}


def timed(call, count: int) -> dict[str, float]:
    out = []
    for n in range(count):
        started = time.perf_counter()
        call(n)
        out.append((time.perf_counter() - started) * 1000)
    return stats(out)


# --- In the child process, with TUTORWATCH_DB set ----------------------------------------------

def grow(ads: int) -> int:
    """Copy the generated ads by SQL until the store holds ``ads``: each round's copies get
    new ids, URLs, phones (another mobile prefix: 13x → 14x, 15x …) and WeChat ids, with
    their contact index rows, so a phone is shared as often as in the generated part. Much
    faster than generating (minutes, not an hour, for a million ads on two shared cores).
    Copies have no review item: the ads are what a phone search reads."""
    from django.db import connection

    from review_ui.models import Ad

    columns = [f.column for f in Ad._meta.concrete_fields]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), max(id) FROM review_ui_ad")
        count, top = cursor.fetchone()
        generated = count
        for round_ in range(1, 7):
            if count >= ads:
                break
            take = min(generated, ads - count)
            prefix = f"1{3 + round_}"
            expressions = {
                "id": f"id + {top}", "url": f"url || '#copy{round_}'",
                "phones": f"replace(phones::text, '\"13', '\"{prefix}')::jsonb",
                "wechat_ids": f"replace(wechat_ids::text, '\"wx_', '\"w{round_}_')::jsonb",
                "duplicate_group_id": "NULL", "crawl_run_id": "NULL",
            }
            select = ", ".join(expressions.get(c, f'"{c}"') for c in columns)
            cursor.execute(f'INSERT INTO review_ui_ad ({", ".join(columns)}) '
                           f"SELECT {select} FROM review_ui_ad WHERE id <= {take}")
            cursor.execute(
                "INSERT INTO review_ui_adcontact (ad_id, kind, value) "
                f"SELECT ad_id + {top}, kind, CASE WHEN value LIKE '13%%' THEN "
                f"'{prefix}' || substr(value, 3) WHEN value LIKE 'wx\\_%%' THEN "
                f"'w{round_}_' || substr(value, 4) ELSE value END "
                f"FROM review_ui_adcontact WHERE ad_id <= {take}")
            count, top = count + take, top + take
        cursor.execute("SELECT setval(pg_get_serial_sequence('review_ui_ad', 'id'), "
                       "(SELECT MAX(id) FROM review_ui_ad))")
        cursor.execute("ANALYZE")
    return count


def add_cases_and_institutions(seed: int = 5) -> dict[str, int]:
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from review_ui.models import Ad, Case, Institution, ReviewItem

    rng = random.Random(seed)
    opener = get_user_model().objects.get(username="bench_supervisor")
    escalated = list(ReviewItem.objects.filter(status="escalated").values_list("pk", flat=True))
    with transaction.atomic():
        cases = Case.objects.bulk_create(
            Case(opened_by=opener, note=f"批量核查 {n}") for n in range(len(escalated) // 3 + 1))
        for start in range(0, len(escalated), 5000):
            part = escalated[start:start + 5000]
            by_case: dict[int, list[int]] = {}
            for pk in part:
                by_case.setdefault(rng.choice(cases).pk, []).append(pk)
            for case_id, pks in by_case.items():
                ReviewItem.objects.filter(pk__in=pks).update(case_id=case_id)
        phones = list(Ad.objects.exclude(phones=[]).values_list("phones", flat=True)[:20000])
        Institution.objects.bulk_create(
            Institution(name=f"{rng.choice('阳光启明博学智慧新星')}教育培训中心{n}",
                        kind=rng.choice(["licensed", "blacklisted"]), region="长沙",
                        address=f"长沙市雨花区某路{n}号",
                        phones=list(rng.choice(phones)) if rng.random() < 0.5 else [])
            for n in range(5000))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"cases": len(cases), "institutions": 5000}


def add_leads(count: int, seed: int = 9) -> dict[str, int]:
    """Complaints as the hotline's export brings them: most name a phone that ads carry, some
    a WeChat id, an institution name, and one in ten belongs to a case."""
    from django.db import connection, transaction
    from django.utils import timezone

    from review_ui.intake.leads import index, institution_key
    from review_ui.models import AdContact, Case, Lead

    rng = random.Random(seed)
    phones = list(AdContact.objects.filter(kind="phone").order_by("?")
                  .values_list("value", flat=True)[:count])
    cases = list(Case.objects.values_list("pk", flat=True)[:2000])
    now = timezone.now()
    with transaction.atomic():
        leads = Lead.objects.bulk_create(
            Lead(text=f"家长反映：小区内有人办{rng.choice(['数学', '英语', '作文'])}补习班，"
                      f"每晚授课。工单{n}",
                 place=f"长沙市雨花区某小区{n % 300}栋",
                 institution=(name := f"{rng.choice('阳光启明博学智慧新星')}教育{n % 500}"),
                 institution_key=institution_key(name),
                 phones=[rng.choice(phones)] if rng.random() < 0.8 else [],
                 wechat_ids=[f"lead_{n:06d}"] if rng.random() < 0.3 else [],
                 channel="hotline", ticket=f"12345-{n:07d}",
                 received_at=now, case_id=rng.choice(cases) if rng.random() < 0.1 else None)
            for n in range(count))
        index(leads)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE review_ui_lead")
        cursor.execute("ANALYZE review_ui_leadcontact")
    return {"leads": count}


def measure(args: argparse.Namespace) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "review_ui.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from review_ui.models import Ad, AdContact
    from review_ui.search import parse, search

    rng = random.Random(3)
    user = get_user_model().objects.get(username="bench_supervisor")
    max_id = Ad.objects.order_by("-pk").values_list("pk", flat=True).first()
    stored = list(AdContact.objects.filter(kind="phone").order_by("?")
                  .values_list("value", flat=True)[:args.repeat])
    results: dict[str, dict[str, float]] = {}

    def pk_lookup(n: int) -> None:
        Ad.objects.filter(pk=rng.randrange(1, max_id + 1)).values("id", "title").first()

    def phone_search(n: int) -> None:
        pages = search(parse(spellings(stored[n % len(stored)], n)), user)
        assert pages[0].hits, f"no ad for {stored[n % len(stored)]}"

    timed(pk_lookup, 50)  # warm the connection and the caches
    results["floor (store): ad by primary key"] = timed(pk_lookup, args.repeat)
    results["phone (store): search()"] = timed(phone_search, args.repeat)

    client = Client(HTTP_HOST="127.0.0.1")
    auth = {"HTTP_AUTHORIZATION": f"Token {Token.objects.get_or_create(user=user)[0].key}"}

    def api_floor(n: int) -> None:
        response = client.get(f"/api/v1/ads/{rng.randrange(1, max_id + 1)}/", **auth)
        assert response.status_code == 200, response.status_code

    def api_phone(n: int) -> None:
        response = client.get("/api/v1/search/", {"q": spellings(stored[n % len(stored)], n)},
                              **auth)
        assert response.status_code == 200 and response.json()["results"]["ad"]["results"]

    timed(api_floor, 20)
    results["floor (API): GET ads/{id}/"] = timed(api_floor, args.repeat)
    results["phone (API): GET search/?q="] = timed(api_phone, args.repeat)

    word_runs = max(5, args.repeat // 30)
    for label, q in (("words (store): 数学, common", "数学"),
                     ("words (store): 补课 老师, two words", "补课 老师"),
                     ("words (store): a word no ad holds", "龘靐齉")):
        results[label] = timed(lambda n, q=q: search(parse(q), user, kind="ad"), word_runs)
    results["words (store): 数学, every kind"] = timed(
        lambda n: search(parse("数学"), user), word_runs)
    if args.trigram:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            for column in ("title", "text"):  # what a word is looked for in (LIKE, no UPPER)
                cursor.execute(f"CREATE INDEX bench_ad_{column}_trgm ON review_ui_ad "
                               f"USING gin ({column} gin_trgm_ops)")
            cursor.execute("ANALYZE review_ui_ad")
            cursor.execute("SELECT pg_size_pretty(pg_relation_size('bench_ad_title_trgm') + "
                           "pg_relation_size('bench_ad_text_trgm'))")
            size = cursor.fetchone()[0]
        results["trigram indexes (title, text)"] = {"seconds": time.perf_counter() - started,
                                                    "size": size}
        try:
            for label, q in (("words + trigram (store): 数学, common", "数学"),
                             ("words + trigram (store): 一对一辅导, 5 characters", "一对一辅导"),
                             ("words + trigram (store): a word no ad holds", "龘靐齉")):
                results[label] = timed(lambda n, q=q: search(parse(q), user, kind="ad"),
                                       word_runs)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("DROP INDEX bench_ad_title_trgm, bench_ad_text_trgm")
    return results


# --- This process ------------------------------------------------------------------------------

def fill_store(env: dict[str, str], child: list[str]) -> None:
    subprocess.run([sys.executable, "-m", "review_ui.cli", "migrate", "-v", "0"],
                   env=env, cwd=ROOT, check=True)
    started = time.perf_counter()
    done = subprocess.run(child + ["--child", "fill"], env=env, cwd=ROOT,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"filling the store failed:\n{done.stderr[-3000:]}")
    print(f"filled in {time.perf_counter() - started:.0f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ads", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=300, help="searches per measurement")
    parser.add_argument("--raw-bytes", type=int, default=0,
                        help="size of each stored page (the generator's least by default)")
    parser.add_argument("--trigram", action="store_true",
                        help="then measure word searches with a pg_trgm index")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--keep", metavar="NAME",
                        help="use (and keep) database NAME, filling it only if it is new")
    parser.add_argument("--generate", type=int, default=250_000,
                        help="ads made by the generator; the rest are copies made by SQL")
    parser.add_argument("--child", choices=["fill", "grow", "measure"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    if args.child == "fill":
        _generator().fill(min(args.ads, args.generate), 1, args.raw_bytes)
        return
    if args.child == "grow":
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "review_ui.settings")
        import django

        django.setup()
        from review_ui.models import Institution, Lead

        print(json.dumps({"ads": grow(args.ads)}))
        if not Institution.objects.exists():
            print(json.dumps(add_cases_and_institutions()))
        if not Lead.objects.exists():
            print(json.dumps(add_leads(10_000)))
        return
    if args.child == "measure":
        print(json.dumps(measure(args)))
        return

    import psycopg

    print(f"machine: {platform.machine()} {os.cpu_count()} cores, python "
          f"{platform.python_version()}; {args.ads:,} ads; {args.repeat} searches per "
          f"measurement", flush=True)
    name = args.keep or f"tw_search_bench_{os.getpid()}"
    with psycopg.connect(args.pg, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
        version = conn.execute("SHOW server_version").fetchone()[0]
    workdir = Path(tempfile.mkdtemp(prefix="tw-search-bench-"))
    env = {**os.environ, "TUTORWATCH_DB": args.pg.rsplit("/", 1)[0] + f"/{name}",
           "TUTORWATCH_DATA_DIR": str(workdir), "DJANGO_SETTINGS_MODULE": "review_ui.settings",
           "TUTORWATCH_SECRET_KEY": "benchmark-only-secret-key-" + "x" * 40}
    child = [sys.executable, __file__, "--ads", str(args.ads), "--repeat", str(args.repeat),
             "--raw-bytes", str(args.raw_bytes), "--generate", str(args.generate)]
    child += ["--trigram"] if args.trigram else []
    try:
        if not exists:
            fill_store(env, child)
        else:  # a kept store from an earlier version: bring its schema up to date
            subprocess.run([sys.executable, "-m", "review_ui.cli", "migrate", "-v", "0"],
                           env=env, cwd=ROOT, check=True)
        started = time.perf_counter()
        done = subprocess.run(child + ["--child", "grow"], env=env, cwd=ROOT,
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"copying ads failed:\n{done.stderr[-3000:]}")
        print(f"copied and analysed in {time.perf_counter() - started:.0f} s", flush=True)
        with psycopg.connect(env["TUTORWATCH_DB"]) as conn:
            size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))"
                                ).fetchone()[0]
            counts = [conn.execute(f"SELECT count(*) FROM review_ui_{table}").fetchone()[0]
                      for table in ("ad", "adcontact", "reviewitem", "case", "institution",
                                    "lead")]
        print("PostgreSQL {}: {:,} ads ({:,} contact index rows), {:,} review items, {:,} cases, "
              "{:,} institutions, {:,} leads; database {}".format(version, *counts, size),
              flush=True)
        done = subprocess.run(child + ["--child", "measure"], env=env, cwd=ROOT,
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"measuring failed:\n{done.stderr[-3000:]}")
        results = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        if not args.keep:
            with psycopg.connect(args.pg, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    for label, r in results.items():
        if "p95" in r:
            print(f"  {label:<52} p50 {r['p50']:8.1f} ms  p95 {r['p95']:8.1f} ms  "
                  f"p99 {r['p99']:8.1f} ms  ({r['n']} runs)")
        else:
            print(f"  {label:<52} built in {r['seconds']:.0f} s, {r['size']}")
    for kind in ("store", "API"):
        floor = next(r for k, r in results.items() if k.startswith(f"floor ({kind})"))["p95"]
        phone = next(r for k, r in results.items() if k.startswith(f"phone ({kind})"))["p95"]
        print(f"phone search p95 ({kind}): {phone:.1f} ms = {phone / floor:.1f}× the floor's "
              f"{floor:.1f} ms; target 100 ms: {'met' if phone <= 100 else 'MISSED'}")


if __name__ == "__main__":
    main()
