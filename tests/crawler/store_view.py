"""Read a store that a subprocess crawl wrote (SQLite file or PostgreSQL URL), without Django:
the test process's own Django is bound to the test database."""

from __future__ import annotations

import json
import sqlite3
from typing import Any


def query(db_url: str, sql: str) -> list[tuple]:
    if db_url.startswith("sqlite:///"):
        with sqlite3.connect(db_url[len("sqlite:///"):]) as conn:
            return conn.execute(sql).fetchall()
    import psycopg

    with psycopg.connect(db_url) as conn:
        return conn.execute(sql).fetchall()


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def ads(db_url: str) -> dict[str, dict[str, Any]]:
    rows = query(db_url, """
        SELECT a.url, a.title, a.text, a.phones, a.wechat_ids, a.raw_sha256, a.duplicate_group_id,
               v.score, v.label, a.raw_encoding, a.extraction
        FROM review_ui_ad a LEFT JOIN review_ui_verdict v ON v.id = a.verdict_id""")
    return {
        url: {"title": title, "text": text, "phones": _json(phones), "wechat_ids": _json(wechat),
              "raw_sha256": sha, "group": group, "score": score, "label": bool(label),
              "encoding": encoding, "extraction": extraction}
        for url, title, text, phones, wechat, sha, group, score, label, encoding, extraction
        in rows
    }


def count_ads(db_url: str) -> int:
    try:
        return int(query(db_url, "SELECT count(*) FROM review_ui_ad")[0][0])
    except Exception:  # not migrated yet, or locked for a moment
        return 0


def last_run_stats(db_url: str) -> tuple[str, dict[str, Any]]:
    rows = query(db_url, "SELECT status, stats FROM review_ui_crawlrun ORDER BY id DESC")
    status, stats = rows[0]
    return status, _json(stats)


def store_state(db_url: str) -> dict[str, Any]:
    """Everything that must be the same after any crawl of the same pages, whatever the order the
    pages came in: each ad's content and verdict, the groups of copies (as sets of URLs), which
    groups have review items and how many, and the audit trail per ad."""
    stored = ads(db_url)
    groups: dict[int, set[str]] = {}
    for url, ad in stored.items():
        if ad["group"] is not None:
            groups.setdefault(ad["group"], set()).add(url)
    item_rows = query(db_url, """
        SELECT a.url, a.duplicate_group_id FROM review_ui_reviewitem r
        JOIN review_ui_ad a ON a.id = r.ad_id WHERE r.status <> 'merged'""")
    items_per_unit: dict[frozenset[str], int] = {}
    for url, group in item_rows:
        unit = frozenset(groups[group]) if group is not None else frozenset([url])
        items_per_unit[unit] = items_per_unit.get(unit, 0) + 1
    def unit_of(url: str) -> tuple[str, ...]:
        group = stored[url]["group"]
        return tuple(sorted(groups[group])) if group is not None else (url,)

    # Which copy of a group holds its review item depends on the order copies arrive in, so
    # the audit trail is compared per group: actions and how many of each. Queueing inside a
    # group is order-dependent too (two copies arriving apart may each be queued, and the items
    # then merge), so those two actions are left out here; "review_items" above checks that each
    # group ends with exactly one live item. So is the joining of operators (issue 19): which
    # operators meet, and on which ad, depends on the order ads arrive in.
    audit_rows = query(db_url, """
        SELECT a.url, e.action, count(*) FROM review_ui_auditevent e
        JOIN review_ui_ad a ON a.id = e.ad_id
        WHERE e.action NOT IN ('item.queued', 'item.merged', 'operator.merged')
        GROUP BY a.url, e.action""")
    audit: dict[tuple, int] = {}
    for url, action, n in audit_rows:
        key = (unit_of(url), action)
        audit[key] = audit.get(key, 0) + int(n)
    verdicts = query(db_url, """
        SELECT a.url, count(*) FROM review_ui_verdict v JOIN review_ui_ad a ON a.id = v.ad_id
        GROUP BY a.url""")
    return {
        "ads": {url: {k: v for k, v in ad.items() if k != "group"} for url, ad in stored.items()},
        "groups": sorted(sorted(members) for members in groups.values()),
        "review_items": {tuple(sorted(unit)): n for unit, n in items_per_unit.items()},
        "audit": sorted(audit.items()),
        "verdicts_per_ad": sorted(verdicts),
    }
