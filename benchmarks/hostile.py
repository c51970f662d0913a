"""Cost of the hostile-web defences, each against its own floor measured in the same run:

1. storing ads with near-duplicate grouping (MinHash keys, candidate lookup, exact Jaccard)
   against the same ``review_ui.store.ingest`` with grouping switched off, into fresh SQLite
   stores, for the labeled training texts plus reposts of some of them;
2. the charset decision (``crawler.charset.decide_charset`` + decoding) against w3lib's
   ``html_to_unicode`` (what Scrapy does alone), on the real pages of
   ``../shared/real-world/pages/`` (skipped when that folder is missing).

    python benchmarks/hostile.py [--ads 1500]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def texts(limit: int) -> list[str]:
    with open(ROOT / "classifier" / "data" / "train.jsonl", encoding="utf-8") as handle:
        rows = [json.loads(line)["text"] for line in handle]
    base = rows[: int(limit * 0.8)]
    reposts = [text.replace("，", ",") + " 😀 电话13800000000"
               for text in base[: limit - len(base)]]
    return base + reposts


def store(items: list[str], grouping: bool) -> tuple[float, int]:
    """Submit every text as a new ad; with grouping off, ads get no keys, so the grouped run
    (in the same store, under other URLs) never sees them as candidates."""
    from review_ui.models import Ad
    from review_ui.store import ingest

    original = ingest.link_copies
    ingest.link_copies = original if grouping else (lambda ad, new=False: False)
    prefix = "grouped" if grouping else "plain"
    try:
        started = time.perf_counter()
        for n, text in enumerate(items):
            ingest.ingest([{"url": f"http://127.0.0.1/{prefix}/{n}", "source": "bench", "title": "",
                          "body_text": text, "raw_body": text.encode(),
                          "verdict": {"score": 0.9, "label": 1, "model_version": "bench"}}])
        elapsed = time.perf_counter() - started
    finally:
        ingest.link_copies = original
    groups = (Ad.objects.filter(url__contains=f"/{prefix}/").exclude(duplicate_group=None)
              .values("duplicate_group").distinct().count())
    return elapsed, groups


def charsets() -> tuple[float, float, int] | None:
    from w3lib.encoding import html_to_unicode

    from crawler.charset import decode

    pages = sorted((ROOT.parent / "shared" / "real-world" / "pages").glob("*.html"))
    if not pages:
        return None
    bodies = [page.read_bytes() for page in pages]
    rounds = 20
    started = time.perf_counter()
    for _ in range(rounds):
        for body in bodies:
            html_to_unicode("text/html", body)
    floor = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(rounds):
        for body in bodies:
            decode(body, "text/html")
    ours = time.perf_counter() - started
    return floor, ours, sum(len(b) for b in bodies) * rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ads", type=int, default=1500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("TUTORWATCH_DATA_DIR", tmp)
        os.environ["DJANGO_SETTINGS_MODULE"] = "review_ui.settings"
        os.environ["TUTORWATCH_DB"] = f"sqlite:///{Path(tmp) / 'store.sqlite3'}"
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        items = texts(args.ads)
        plain, _ = store(items, False)
        grouped, groups = store(items, True)
    print(f"store {len(items)} ads, grouping off: {plain:.2f} s ({len(items) / plain:.0f} ads/s)")
    print(f"store {len(items)} ads, grouping on:  {grouped:.2f} s "
          f"({len(items) / grouped:.0f} ads/s), {groups} groups")
    print(f"ratio grouping on / off (throughput): {plain / grouped:.2f}")
    measured = charsets()
    if measured is None:
        print("charset: ../shared/real-world/pages/ not found, skipped")
        return
    floor, ours, size = measured
    print(f"charset: w3lib html_to_unicode {size / floor / 1e6:.0f} MB/s, "
          f"decide_charset + decode {size / ours / 1e6:.0f} MB/s, ratio {floor / ours:.2f}")


if __name__ == "__main__":
    main()
