"""Fill a store with a million realistic ads, by SQL, in minutes, on SQLite and PostgreSQL.

    python benchmarks/million.py [--ads 1000000] [--clients 20] [--sources 40]
    (with TUTORWATCH_DB naming a migrated store; it prints what it wrote as JSON)

``benchmarks/review_ui.py`` fills its stores with :func:`fill`. Every row is written by
``INSERT … SELECT`` over a series of numbers (``generate_series`` on PostgreSQL, a recursive
CTE on SQLite), each ad's attributes drawn from a hash of its number, so that a run writes the
same store every time and no row goes through Python. Only the users and sources (a few dozen
rows) and the texts (the labeled corpus, 4,353 rows) are written by the ORM or ``executemany``.

What a store holds after :func:`fill` with ``ads`` = N:

- ``sources`` sources (forums, classified boards, apps), the ads spread over them unevenly;
- N ads over five years (fetched, first seen and, for four in five, posted an hour earlier),
  their texts and categories those of the labeled corpus, a small raw page each, a region;
- posters: about N / 3, sizes skewed (one posts ~1,700 ads, most one to three); every ad of a
  poster carries the poster's phone (85 % of posters have one) and WeChat id (half), with the
  contact index rows (``AdContact``) and ``contact_shares`` exact (ads of the poster - 1);
- groups of copies: one ad in ten is a copy of the ad before it (same text and poster, another
  source, found a few hours later), both in a ``DuplicateGroup``; the group's review item is on
  the first copy;
- a verdict per ad (the corpus label; flagged scores 0.55–0.99, others below 0.5), and a review
  item per flagged ad that is not a copy (its id is the ad's), with its priority as
  ``review_ui.models.priority`` computes it and its verdict's score: pending when found in the
  last 60 days (and 3 % of older ones), else decided by one of the ``clients`` officers within
  three days: about 20 % confirmed, 6 % escalated, the rest dismissed, each with a reason code;
- a decision per decided item, a case per three escalated items (items and decisions linked),
  and an audit row per decision (``item.decided``), chained by ``prev_hash`` (the hashes are
  placeholders: ``tutorwatch audit verify`` would refuse them, new rows chain on correctly).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path
                             if Path(p or ".").resolve() != Path(__file__).resolve().parent]
PASSWORD = "benchmark-password-1"
REGIONS = ["长沙-雨花区", "长沙-岳麓区", "长沙-天心区", "长沙-开福区", "长沙-芙蓉区",
           "长沙-望城区", "株洲-天元区", "湘潭-岳塘区", "衡阳-蒸湘区",
           "岳阳-岳阳楼区", "常德-武陵区", "益阳-赫山区"]
KINDS = ["forum", "classified", "app", "listing", "jobs"]
PRIME = 4294967291  # the largest prime below 2**32: i * a % PRIME is a permutation of i
YEARS = 5
PENDING_DAYS = 60


def source_names(count: int) -> list[str]:
    return [f"bench_{KINDS[n % len(KINDS)]}_{n:02d}" for n in range(count)]


class Dialect:
    """The few expressions that differ between PostgreSQL and SQLite."""

    def __init__(self, vendor: str, anchor: datetime) -> None:
        self.pg = vendor == "postgresql"
        self.anchor = anchor.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")

    def series(self, n: int) -> str:
        """A CTE ``g(i)`` of the numbers 1 … n, for ``WITH RECURSIVE {series} INSERT …``."""
        if self.pg:
            return f"g(i) AS (SELECT generate_series(1, {int(n)}))"
        return f"g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < {int(n)})"

    def unit(self, expr: str, a: int) -> str:
        """A number in [0, 1) drawn from ``expr`` (an integer) by the multiplier ``a``."""
        return f"((CAST({expr} AS BIGINT) * {a} % {PRIME}) / {PRIME}.0)"

    def floor(self, expr: str) -> str:
        return f"CAST(floor({expr}) AS INTEGER)" if self.pg else f"CAST({expr} AS INTEGER)"

    def minutes_ago(self, expr: str) -> str:
        if self.pg:
            return f"(TIMESTAMPTZ '{self.anchor}+00' - ({expr}) * INTERVAL '1 minute')"
        return f"datetime('{self.anchor}', (-({expr})) || ' minutes')"

    def plus_minutes(self, column: str, expr: str) -> str:
        if self.pg:
            return f"({column} + ({expr}) * INTERVAL '1 minute')"
        return f"datetime({column}, ({expr}) || ' minutes')"

    def pad(self, expr: str, width: int) -> str:
        if self.pg:
            return f"lpad(({expr})::text, {width}, '0')"
        return f"printf('%0{width}d', {expr})"

    def hex64(self, expr: str, prefix: str) -> str:
        if self.pg:
            return f"'{prefix}' || lpad(to_hex({expr}), {64 - len(prefix)}, '0')"
        return f"'{prefix}' || printf('%0{64 - len(prefix)}x', {expr})"

    def array(self, *items: str) -> str:
        listed = ", ".join(items)
        return f"jsonb_build_array({listed})" if self.pg else f"json_array({listed})"

    def empty_array(self) -> str:
        return "'[]'::jsonb" if self.pg else "'[]'"

    def empty_object(self) -> str:
        return "'{}'::jsonb" if self.pg else "'{}'"

    def blob(self, expr: str) -> str:
        return f"convert_to({expr}, 'UTF8')" if self.pg else f"CAST({expr} AS BLOB)"

    def log2(self, expr: str) -> str:
        return f"(ln({expr}) / ln(2))" if self.pg else f"log2({expr})"

    def now(self) -> str:
        return f"TIMESTAMPTZ '{self.anchor}+00'" if self.pg else f"'{self.anchor}'"

    def boolean(self, expr: str) -> str:
        return f"({expr})" if self.pg else f"CASE WHEN {expr} THEN 1 ELSE 0 END"


def _default(field, dialect: Dialect) -> str:
    """An SQL value for a column the generator does not set (Django sets no database
    defaults), so that fields other features add to a model do not break the fill."""
    from django.db import models

    if field.null:
        return "NULL"
    if isinstance(field, models.BinaryField):
        return "''::bytea" if dialect.pg else "X''"
    if isinstance(field, models.JSONField):
        default = field.get_default()
        return dialect.empty_object() if isinstance(default, dict) else dialect.empty_array()
    if isinstance(field, models.BooleanField):
        return "false" if dialect.pg else "0"
    if isinstance(field, (models.IntegerField, models.FloatField)):
        return "0"
    if isinstance(field, models.DateTimeField):
        return dialect.now()
    return "''"


def _insert(cursor, model, values: dict[str, str], source: str, dialect: Dialect,
            with_: str = "") -> int:
    """``INSERT INTO model (every column) [WITH …] SELECT values… source``; the rows written."""
    fields = [f for f in model._meta.concrete_fields if f.column in values or not f.primary_key]
    columns = ", ".join(f'"{f.column}"' for f in fields)
    select = ", ".join(values.get(f.column) or _default(f, dialect) for f in fields)
    cursor.execute(f"{with_} INSERT INTO {model._meta.db_table} ({columns}) "
                   f"SELECT {select} {source}")
    return cursor.rowcount


def fill(ads: int, clients: int = 20, sources: int = 40, seed_users: bool = True,
         now: datetime | None = None) -> dict:
    """Fill the store Django is set up with (migrated, without ads); what was written."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.db import connection, transaction
    from django.utils import timezone

    from classifier.corpus import load_split
    from review_ui.models import (
        _EPOCH,
        FRESHNESS_DAYS,
        SHARE_WEIGHT,
        Ad,
        AdContact,
        AuditEvent,
        Case,
        Decision,
        DuplicateGroup,
        ReviewItem,
        Source,
        Verdict,
    )
    from review_ui.reasons import DISMISSAL_CODES, VIOLATION_CODES
    from review_ui.roles import OFFICERS, SUPERVISORS, grant

    started = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str) -> None:
        timings[name] = round(time.perf_counter() - started - sum(timings.values()), 1)

    now = now or timezone.now()
    d = Dialect(connection.vendor, now)
    users = get_user_model().objects
    officers = []
    if seed_users:
        hashed = make_password(PASSWORD)  # hashed once: 21 hashes take seconds
        for i in range(clients):
            user = users.create(username=f"bench{i}", password=hashed)
            grant(user, OFFICERS)
            officers.append(user.pk)
        supervisor = users.create(username="bench_supervisor", password=hashed)
        grant(supervisor, SUPERVISORS)
    else:
        officers = list(users.filter(username__startswith="bench").exclude(
            username="bench_supervisor").order_by("pk").values_list("pk", flat=True))[:clients]
        supervisor = users.get(username="bench_supervisor")
    source_ids = [Source.objects.create(name=name, kind=name.split("_")[1]).pk
                  for name in source_names(sources)]
    corpus = [r for split in ("train", "dev", "test") for r in load_split(split)]
    lap("users, sources")

    posters = max(1, ads // 3)
    texts = len(corpus)
    anchor_days = (now - _EPOCH).total_seconds() / 86400
    span = YEARS * 365 * 24 * 60
    violation, dismissal = sorted(VIOLATION_CODES), sorted(DISMISSAL_CODES)
    tables = ["tw_gen", "tw_text", "tw_poster"]
    with transaction.atomic(), connection.cursor() as cursor:
        if d.pg:
            cursor.execute("SET LOCAL synchronous_commit = off")
            # No foreign-key triggers: every key written names a row written here (the test of
            # this generator checks them), and checking millions of deferred keys at COMMIT
            # takes minutes. Needs a superuser; without one the keys are checked.
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            if cursor.fetchone()[0]:
                cursor.execute("SET LOCAL session_replication_role = replica")
        for table in tables:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute("CREATE TABLE tw_text (n INTEGER PRIMARY KEY, title TEXT, body TEXT, "
                       "category TEXT, label INTEGER)")
        cursor.executemany("INSERT INTO tw_text VALUES (%s, %s, %s, %s, %s)", [
            (n, r["text"].split("。")[0][:60], r["text"], r.get("category") or "",
             int(bool(r["label"]))) for n, r in enumerate(corpus)])
        # One row per ad: its number i, the ad it copies (b: itself, or the ad before it for
        # one in ten), source, poster, text, minutes before now, and draws for the review.
        base = "(CASE WHEN i % 10 = 0 THEN i - 1 ELSE i END)"
        skew = d.unit(base, 2654435761)
        source = d.floor(f"{d.unit('i', 2246822519)} * {d.unit('i', 3266489917)} * {sources}")
        poster = d.floor(f"{skew} * {skew} * {posters}")
        text = d.floor(f"{d.unit(base, 4101842887)} * {texts}")
        minutes = d.floor(f"{d.unit(base, 2034179257)} * {span}")
        cursor.execute(
            "CREATE TABLE tw_gen (i INTEGER PRIMARY KEY, b INTEGER, src INTEGER, "
            "poster INTEGER, t INTEGER, minutes INTEGER, u1 REAL, u2 REAL, grp INTEGER)")
        cursor.execute(
            f"WITH RECURSIVE {d.series(ads)} INSERT INTO tw_gen "
            f"SELECT i, {base}, {source}, {poster}, {text}, "
            f"abs({minutes} - CASE WHEN i % 10 = 0 THEN 1 + i % 600 ELSE 0 END), "
            f"{d.unit('i', 3735928559)}, {d.unit('i', 2166136261)}, "
            f"CASE WHEN i % 10 IN (9, 0) THEN (i + 1) / 10 END FROM g")
        cursor.execute("CREATE TABLE tw_poster (poster INTEGER PRIMARY KEY, n INTEGER, "
                       "phone TEXT, wechat TEXT)")
        cursor.execute(
            f"INSERT INTO tw_poster SELECT poster, count(*), "
            f"CASE WHEN poster % 20 < 17 THEN '1' || (3 + poster % 7) || "
            f"{d.pad('(CAST(poster AS BIGINT) * 7919 + 1) % 999999937', 9)} END, "
            f"CASE WHEN poster % 2 = 0 THEN 'wx_' || "
            f"{d.pad('CAST(poster AS BIGINT) * 48271 % 99999989', 8)} "
            f"END FROM tw_gen GROUP BY poster")
        lap("series")

        groups = ads // 10 + 1
        _insert(cursor, DuplicateGroup, {"id": "i", "created_at": d.now()},
                "FROM g", d, with_=f"WITH RECURSIVE {d.series(groups)}")
        when = d.minutes_ago("x.minutes")
        src = "(" + " ".join(["CASE x.src"] + [f"WHEN {n} THEN {pk}" for n, pk in
                                                enumerate(source_ids)] + ["END)"])
        region = "(" + " ".join(["CASE x.t % 12"] + [f"WHEN {n} THEN '{r}'" for n, r in
                                                      enumerate(REGIONS)] + ["END)"])
        phones = (f"CASE WHEN p.phone IS NULL THEN {d.empty_array()} "
                  f"ELSE {d.array('p.phone')} END")
        wechats = (f"CASE WHEN p.wechat IS NULL THEN {d.empty_array()} "
                   f"ELSE {d.array('p.wechat')} END")
        has_contact = "(p.phone IS NOT NULL OR p.wechat IS NOT NULL)"
        title = "t.title"
        page = (f"'<html><head><meta charset=utf-8><title>' || {title} || '</title></head>"
                f"<body><h1>' || {title} || '</h1><div class=desc>' || t.body || "
                f"'</div></body></html>'")
        _insert(cursor, Ad, {
            "id": "x.i", "url": f"'http://' || {src} || '.bench.example/post/' || x.i || '.html'",
            "source_id": src, "title": title, "text": "t.body",
            "posted_at": f"CASE WHEN x.i % 5 = 0 THEN NULL ELSE {d.plus_minutes(when, '-60')} END",
            "fetched_at": when, "first_seen_at": when, "phones": phones, "wechat_ids": wechats,
            "contact_raw": "coalesce(p.phone, '') || ' ' || coalesce(p.wechat, '')",
            "region": region, "contact_shares": f"CASE WHEN {has_contact} THEN p.n - 1 ELSE 0 END",
            "raw_page": d.blob(page), "raw_sha256": d.hex64("x.i", "a"),
            "raw_content_type": "'text/html'", "raw_encoding": "'utf-8'",
            "text_sha256": d.hex64("x.b", "c"), "verdict_id": "x.i",
            "duplicate_group_id": "x.grp",
        }, "FROM tw_gen x JOIN tw_text t ON t.n = x.t JOIN tw_poster p ON p.poster = x.poster", d)
        lap("ads")
        score = ("CASE WHEN t.label = 1 THEN 0.55 + 0.44 * x.u1 "
                 "ELSE 0.01 + 0.48 * x.u1 END")
        _insert(cursor, Verdict, {
            "id": "x.i", "ad_id": "x.i", "score": score, "label": d.boolean("t.label = 1"),
            "category": "t.category", "model_version": "'bench'", "created_at": when,
            "evidence": d.array("substr(t.body, 3, 4)", "substr(t.body, 11, 3)"),
        }, "FROM tw_gen x JOIN tw_text t ON t.n = x.t", d)
        lap("verdicts")
        for kind, column in (("phone", "phone"), ("wechat", "wechat")):
            _insert(cursor, AdContact, {"ad_id": "x.i", "kind": f"'{kind}'",
                                        "value": f"p.{column}"},
                    f"FROM tw_gen x JOIN tw_poster p ON p.poster = x.poster "
                    f"WHERE p.{column} IS NOT NULL", d)
        lap("contacts")

        # Review items: flagged ads that are not copies. Decided ones: u2 says how.
        pending = (f"(x.minutes < {PENDING_DAYS * 1440} OR x.u2 < 0.03)")
        status = (f"CASE WHEN {pending} THEN 'pending' WHEN x.u2 < 0.23 THEN 'confirmed' "
                  f"WHEN x.u2 < 0.29 THEN 'escalated' ELSE 'dismissed' END")
        reason = (f"CASE WHEN {pending} THEN '' WHEN x.u2 < 0.29 THEN "
                  + "(" + " ".join([f"CASE x.i % {len(violation)}"]
                                   + [f"WHEN {n} THEN '{c}'" for n, c in enumerate(violation)]
                                   + ["END)"])
                  + " ELSE (" + " ".join([f"CASE x.i % {len(dismissal)}"]
                                         + [f"WHEN {n} THEN '{c}'" for n, c in enumerate(dismissal)]
                                         + ["END)"]) + " END")
        officer = "(" + " ".join(["CASE x.i % " + str(len(officers))] + [
            f"WHEN {n} THEN {pk}" for n, pk in enumerate(officers)] + ["END)"])
        decided_at = d.plus_minutes(when, f"30 + {d.floor('x.u1 * 4000')}")
        shares = f"CASE WHEN {has_contact} THEN p.n - 1 ELSE 0 END"
        days = f"({anchor_days} - x.minutes / 1440.0)"
        _insert(cursor, ReviewItem, {
            "id": "x.i", "ad_id": "x.i", "status": status,
            "priority": f"({score}) + {SHARE_WEIGHT} * {d.log2(f'1 + {shares}')} "
                        f"+ 0.1 * {days} / {FRESHNESS_DAYS}",
            "created_at": when,
            "updated_at": f"CASE WHEN {pending} THEN {when} ELSE {decided_at} END",
            "reason": reason, "decided_by_id": f"CASE WHEN {pending} THEN NULL ELSE {officer} END",
            "decided_at": f"CASE WHEN {pending} THEN NULL ELSE {decided_at} END",
            "sample": d.boolean("1 = 0"), "score": score,
        }, "FROM tw_gen x JOIN tw_text t ON t.n = x.t JOIN tw_poster p ON p.poster = x.poster "
           "WHERE t.label = 1 AND x.i % 10 != 0", d)
        lap("review items")

        cursor.execute("SELECT count(*) FROM review_ui_reviewitem WHERE status = 'escalated'")
        escalated = cursor.fetchone()[0]
        cases = escalated // 3 + 1
        _insert(cursor, Case, {"id": "i", "opened_by_id": str(supervisor.pk),
                               "opened_at": d.minutes_ago(f"i % {span}"),
                               "note": "'批量核查 ' || i"},
                "FROM g", d, with_=f"WITH RECURSIVE {d.series(cases)}")
        cursor.execute(f"UPDATE review_ui_reviewitem SET case_id = 1 + id % {cases} "
                       f"WHERE status = 'escalated'")
        note = "CASE WHEN r.id % 4 = 0 THEN '已电话核实，' || r.reason ELSE '' END"
        _insert(cursor, Decision, {
            "id": "r.id", "item_id": "r.id", "officer_id": "r.decided_by_id",
            "decision": "r.status", "reason": "r.reason", "note": note,
            "decided_at": "r.decided_at", "case_id": "r.case_id",
        }, "FROM review_ui_reviewitem r WHERE r.status != 'pending'", d)
        lap("cases, decisions")

        cursor.execute("SELECT max(id) FROM review_ui_auditevent")
        top = cursor.fetchone()[0] or 0
        cursor.execute("SELECT hash FROM review_ui_auditevent ORDER BY id DESC LIMIT 1")
        head = cursor.fetchone()
        head = head[0] if head else "0" * 64
        # Row k (1, 2, …) gets hash "e…k" and the previous row's as prev_hash: a chain by pk.
        number = ("ROW_NUMBER() OVER (ORDER BY r.id)")
        cursor.execute("CREATE TABLE tw_audit (k INTEGER PRIMARY KEY, item INTEGER)")
        cursor.execute(f"INSERT INTO tw_audit SELECT {number}, r.id FROM review_ui_reviewitem r "
                       f"WHERE r.status != 'pending'")
        tables.append("tw_audit")
        _insert(cursor, AuditEvent, {
            "id": f"{top} + a.k", "at": "r.decided_at", "actor_id": "r.decided_by_id",
            "action": "'item.decided'", "ad_id": "r.ad_id", "item_id": "r.id",
            "detail": d.empty_object(),
            "prev_hash": f"CASE WHEN a.k = 1 THEN '{head}' ELSE {d.hex64('a.k - 1', 'e')} END",
            "hash": d.hex64("a.k", "e"),
        }, "FROM tw_audit a JOIN review_ui_reviewitem r ON r.id = a.item", d)
        lap("audit")
        for table in tables:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
        if d.pg:
            for model in (Ad, Verdict, ReviewItem, Decision, AuditEvent, Case, DuplicateGroup,
                          AdContact):
                table = model._meta.db_table
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                               f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)")
    lap("commit")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    lap("analyze")
    counts = {model.__name__: model.objects.count() for model in (
        Ad, Verdict, AdContact, DuplicateGroup, ReviewItem, Decision, Case, AuditEvent)}
    counts.update({status: ReviewItem.objects.filter(status=status).count()
                   for status in ("pending", "confirmed", "escalated", "dismissed")})
    return {"ads": ads, "counts": counts, "fill_seconds": round(time.perf_counter() - started, 1),
            "steps": timings, "vendor": connection.vendor}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ads", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--sources", type=int, default=40)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "review_ui.settings")
    import django

    django.setup()
    print(json.dumps(fill(args.ads, args.clients, args.sources), ensure_ascii=False))


if __name__ == "__main__":
    main()
