"""Operators on PostgreSQL over a large store: linking a new ad, and the operator page.

    python benchmarks/operators.py [--ads 1000000] [--contacts 300000] [--new 300]
                                   [--repeat 100] [--rebuild]
                                   [--pg postgresql://postgres@127.0.0.1:5432/postgres]
                                   [--keep NAME]

It creates a new PostgreSQL database (``tw_operators_bench_<pid>``, dropped at the end;
``--keep NAME`` keeps it, and a later run with the same name reuses it), migrates it and fills
it by SQL (bulk ``INSERT … SELECT``, no ORM): ``--ads`` ads over three sources, written by
operators whose sizes are skewed (a few post thousands of ads, most a handful), each operator
with a phone, a WeChat id and for half of them a second phone (``--contacts`` in all); each ad
carries one or two of its operator's contacts, and one ad in 200 also carries one of five
platform service numbers (hubs, about 1,000 ads each). Then the operators are computed once by
``review_ui.operators.linking.rebuild`` (timed; the command ``tutorwatch operators rebuild``).

Measured, in one process with Django set up as the store and the review UI are:

- floor, store: one ad by primary key, the least a round trip to the server costs;
- link: ``link_ad`` for ``--new`` new ads (each stored with its contact index rows first,
  untimed, and linked in its own transaction, as the store's ingest does): 60% carry a
  contact of one operator, 20% contacts of two (a merge), 10% new contacts, 10% a hub;
- floor, page: an authenticated request that does nothing (the login page, which redirects a
  logged-in user) through Django's test client, in process;
- page: ``GET /operators/<id>/`` for the operator whose size is nearest 500 ads.

It prints p50/p95/p99 of each, with the ratio of each p95 to its floor's, against the targets
of issue 19 (linking ≤ 5 ms per new ad; the page with 500 ads ≤ 100 ms p95).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [
    p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent
]
HUBS = 5


def stats(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return {
        "p50": statistics.median(ms),
        "p95": ms[int(0.95 * (len(ms) - 1))],
        "p99": ms[int(0.99 * (len(ms) - 1))],
        "max": ms[-1],
        "n": len(ms),
    }


def _column_default(field) -> str:
    """An SQL value for a column the generator does not set (Django sets no database
    defaults), so that fields other features add to ``Ad`` do not break the fill."""
    from django.db import models

    if field.null:
        return "NULL"
    if isinstance(field, models.BinaryField):
        return "''::bytea"
    if isinstance(field, models.JSONField):
        return "'[]'::jsonb"
    if isinstance(field, models.BooleanField):
        return "false"
    if isinstance(field, (models.IntegerField, models.FloatField)):
        return "0"
    if isinstance(field, models.DateTimeField):
        return "now()"
    return "''"


def fill(ads: int, contacts: int) -> int:
    """Sources, ads and their contact index rows, by SQL; the number of operators written."""
    from django.db import connection

    from review_ui.models import Ad, Source

    for n in range(3):
        Source.objects.get_or_create(name=f"bench_{n}", defaults={"kind": "forum"})
    sources = list(Source.objects.order_by("pk").values_list("pk", flat=True))
    # Operators: each has a phone and a WeChat id, half a second phone: 2.5 contacts each.
    operators = int(contacts / 2.5)
    set_by_us = {
        "url": "'http://bench.invalid/ad/' || i",
        "source_id": f"(ARRAY{sources})[1 + i %% 3]",
        "title": "'补习广告 ' || i",
        "text": "'小学数学一对一辅导，第 ' || i || ' 号'",
        "fetched_at": "now() - (i %% 1000) * interval '1 hour'",
        "first_seen_at": "now() - (i %% 1000) * interval '1 hour'",
        # One or two of the operator's contacts; one ad in 200 carries a hub number too.
        "phones": (
            "jsonb_build_array(CASE WHEN i %% 3 = 0 AND o %% 2 = 0 "
            "THEN '138' || lpad(o::text, 8, '0') ELSE '139' || lpad(o::text, 8, '0') END)"
            f" || CASE WHEN i %% 200 = 0 THEN jsonb_build_array('40080000' || (i %% {HUBS}))"
            " ELSE '[]'::jsonb END"
        ),
        "wechat_ids": (
            "CASE WHEN i %% 2 = 0 THEN jsonb_build_array('wx_op' || o) ELSE '[]'::jsonb END"
        ),
    }
    fields = [f for f in Ad._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(f'"{f.column}"' for f in fields)
    values = ", ".join(set_by_us.get(f.column, _column_default(f)) for f in fields)
    with connection.cursor() as cursor:
        # o: the ad's operator, skewed towards small numbers (r² of a uniform r): operator 0
        # posts about ads/sqrt(operators) ads, most operators a few.
        cursor.execute(
            f"INSERT INTO review_ui_ad ({columns}) SELECT {values} FROM ("
            f"  SELECT i, floor({operators} * power(((i * 2654435761::bigint) %% 4294967296)"
            f"         / 4294967296.0, 2))::int AS o FROM generate_series(1, %s) AS i) AS g",
            [ads],
        )
        cursor.execute(
            "INSERT INTO review_ui_adcontact (ad_id, kind, value) "
            "SELECT id, 'phone', jsonb_array_elements_text(phones) FROM review_ui_ad "
            "UNION ALL "
            "SELECT id, 'wechat', jsonb_array_elements_text(wechat_ids) FROM review_ui_ad"
        )
        cursor.execute("ANALYZE")
    return operators


def timed(call, count: int) -> dict[str, float]:
    out = []
    for n in range(count):
        started = time.perf_counter()
        call(n)
        out.append((time.perf_counter() - started) * 1000)
    return stats(out)


def new_ads(count: int, rng: random.Random) -> list[tuple[list[str], list[str]]]:
    """The contacts of the new ads: 60% one operator's, 20% two operators', 10% new, 10% a
    hub's."""
    from review_ui.models import AdContact

    phones = list(
        AdContact.objects.filter(kind="phone", value__startswith="139")
        .order_by("?")
        .values_list("value", flat=True)[: count * 2]
    )
    wechat = list(
        AdContact.objects.filter(kind="wechat")
        .order_by("?")
        .values_list("value", flat=True)[:count]
    )
    out = []
    for n in range(count):
        kind = n % 10
        if kind < 6:
            out.append(([phones[n]], []))
        elif kind < 8:
            out.append(([phones[n]], [wechat[n]]))
        elif kind < 9:
            out.append(([f"1370000{n:04d}"], [f"wx_new{n}"]))
        else:
            out.append(([f"40080000{n % HUBS}"], [f"wx_solo{n}"]))
    rng.shuffle(out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ads", type=int, default=1_000_000)
    parser.add_argument("--contacts", type=int, default=300_000)
    parser.add_argument("--new", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument(
        "--pg",
        default=os.environ.get(
            "TUTORWATCH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--keep", help="keep (and reuse) the database under this name")
    args = parser.parse_args()

    import psycopg

    base = args.pg.rsplit("/", 1)[0]
    name = args.keep or f"tw_operators_bench_{os.getpid()}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["TUTORWATCH_DB"] = f"{base}/{name}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "review_ui.settings")
    os.environ.setdefault("TUTORWATCH_DATA_DIR", "/tmp/tw_operators_bench")
    os.environ.setdefault("TUTORWATCH_ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
    import django

    django.setup()
    try:
        run(args, reuse=bool(exists))
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(args: argparse.Namespace, reuse: bool) -> None:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import transaction
    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone

    from review_ui.models import Ad, AdContact, AdOperator, AuditEvent, Operator, Source
    from review_ui.operators.linking import link_ad, rebuild
    from review_ui.roles import OFFICERS, grant

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores; PostgreSQL; "
        f"{args.ads:,} ads, {args.contacts:,} contacts"
    )
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    print(f"migrate: {time.perf_counter() - started:.0f} s")
    if not (reuse and Ad.objects.exists()):
        started = time.perf_counter()
        fill(args.ads, args.contacts)
        print(f"fill: {time.perf_counter() - started:.0f} s")
        started = time.perf_counter()
        figures = rebuild()
        print(
            f"rebuild (tutorwatch operators rebuild): {time.perf_counter() - started:.0f} s; "
            f"{figures}"
        )
    print(
        f"ads {Ad.objects.count():,}, distinct contacts "
        f"{AdContact.objects.values('kind', 'value').distinct().count():,}, "
        f"operators {Operator.objects.filter(merged_into__isnull=True, size__gt=0).count():,}"
    )

    rng = random.Random(19)
    some = list(Ad.objects.order_by("?").values_list("pk", flat=True)[: args.repeat])
    floor_store = timed(
        lambda n: list(Ad.objects.filter(pk=some[n % len(some)]).values_list("pk", flat=True)),
        args.repeat * 3,
    )

    source = Source.objects.order_by("pk").first()
    plans = new_ads(args.new, rng)
    link_ms = []
    for n, (phones, wechat) in enumerate(plans):
        with transaction.atomic():
            ad = Ad.objects.create(
                url=f"http://bench.invalid/new/{os.getpid()}/{n}",
                source=source,
                title="新广告",
                text=f"新广告 {n}",
                fetched_at=timezone.now(),
                phones=phones,
                wechat_ids=wechat,
            )
            AdContact.objects.bulk_create(
                AdContact(ad=ad, kind=k, value=v) for k, v in ad.contact_keys()
            )
            events: list[AuditEvent] = []
            started = time.perf_counter()
            link_ad(ad, events)
            AuditEvent.objects.bulk_create(events)
            link_ms.append((time.perf_counter() - started) * 1000)
    link = stats(link_ms)

    target = (
        Operator.objects.filter(merged_into__isnull=True, size__gte=450, size__lte=550)
        .order_by("size")
        .first()
        or Operator.objects.filter(merged_into__isnull=True).order_by("-size").first()
    )
    assert AdOperator.objects.filter(operator=target).count() == target.size
    user, _ = get_user_model().objects.get_or_create(username="bench_officer")
    grant(user, OFFICERS)
    client = Client()
    client.force_login(user)
    login, page = reverse("login"), reverse("operators:operator", args=[target.pk])
    for _ in range(5):  # warm
        assert client.get(login).status_code in (200, 302)
        assert client.get(page).status_code == 200
    floor_page = timed(lambda n: client.get(login), args.repeat)
    page_ms = timed(lambda n: client.get(page), args.repeat)

    print("\nms          p50     p95     p99     max     p95 / floor p95")
    for label, figures, floor in (
        ("floor store", floor_store, None),
        ("link ad", link, floor_store),
        ("floor page", floor_page, None),
        (f"page ({target.size} ads)", page_ms, floor_page),
    ):
        ratio = f"{figures['p95'] / floor['p95']:6.1f}×" if floor else ""
        print(
            f"{label:<18} {figures['p50']:6.1f}  {figures['p95']:6.1f}  {figures['p99']:6.1f}"
            f"  {figures['max']:6.1f}   {ratio}"
        )
    print(
        f"\ntargets: link p95 {link['p95']:.1f} ms (≤ 5 ms: "
        f"{'met' if link['p95'] <= 5 else 'missed'}); page p95 {page_ms['p95']:.1f} ms "
        f"(≤ 100 ms: {'met' if page_ms['p95'] <= 100 else 'missed'})"
    )


if __name__ == "__main__":
    main()
