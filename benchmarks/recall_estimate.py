"""Does the dashboard's recall interval cover the true recall? (issue 16, last target)

    python benchmarks/recall_estimate.py [--rates 0.1 0.2 0.3] [--seed 0] [--partial 0.3]

For each rate: a temporary sandbox data dir is filled with labeled posts (the corpus DEV split,
never the test split, and /work/shared/real-world/texts.jsonl, for evaluation only), shuffled by
the seed and dealt to the three sandbox sites; the three bundled sandbox sources, aimed at the
ports used, are crawled by ``tutorwatch crawl`` in a subprocess into a fresh SQLite store with
``TUTORWATCH_SAMPLE_RATE`` at that rate. Then, in a second subprocess with Django set up on that
store (settings are read once per process, so each store gets its own), an officer decides
the queued items by their posts' known labels through ``ReviewItem.decide`` with the post's
category as the reason: first every exploration sample and a share ``--partial`` of the flags
(mid-review, where the precision interval has a width), then the rest; after each,
``review_ui.estimates.build`` gives precision and recall with their 95% intervals, overall and
per source.

The truth: recall = ads the model flagged among all positive ads stored; precision = positive
ads among the flagged ones. An interval "covers" when the truth lies inside it.

The exploration sample is a hash of the ad's URL, and the sandbox ports are picked afresh for
each run (they are part of the URL), so each run draws a different sample, and a different
rate draws a different share.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
REAL_WORLD = Path("/work/shared/real-world/texts.jsonl")
SITES = ("classified", "forum", "app")
# The bundled sources stop at 20 list pages; the benchmark's sites have more.
MAX_PAGES = 500


# --- the sandbox data -----------------------------------------------------------------------------

def labeled_posts() -> list[dict]:
    """The dev split and the real-world texts: id, text, label, category."""
    from classifier.corpus import load_split

    rows = [{"id": r["id"], "text": r["text"], "label": int(r["label"]),
             "category": r["category"]} for r in load_split("dev")]
    with open(REAL_WORLD, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                r = json.loads(line)
                rows.append({"id": r["id"], "text": r["text"], "label": int(r["label"]),
                             "category": r["category"]})
    return rows


def _title(text: str) -> str:
    """A list-page title: the first line, cut short, as posters' titles are."""
    first = text.strip().splitlines()[0].strip() if text.strip() else "无标题"
    return first[:30]


def site_post(site: str, number: int, row: dict) -> tuple[dict, str]:
    """One post in the site's format, and the path of its detail page (the ad's URL path)."""
    title, text = _title(row["text"]), row["text"]
    when = f"2026-10-{1 + number % 28:02d} {8 + number % 12:02d}:{number % 60:02d}"
    common = {"label": row["label"], "category": row["category"]}
    if site == "classified":
        post = {"id": number, "title": title, "body": text, "posted_at": when,
                "contact_name": "", "phone": "", "region": "长沙", "section": "教育培训",
                **common}
        return post, f"/post/{number}.shtml"
    if site == "forum":
        post = {"id": number, "title": title, "body": text, "author": f"用户{number}",
                "posted_at": when, **common}
        return post, f"/thread-{number}-1-1.html"
    post_id = f"b{number:06d}"
    post = {"postId": post_id, "title": title, "content": text, "nickname": f"用户{number}",
            "createdAt": when.replace(" ", "T") + ":00+08:00", "wechat": "", "phone": "",
            **common}
    return post, f"/api/v1/post/{post_id}"


def write_sandbox(data_dir: Path, rows: list[dict], seed: int) -> dict[str, dict]:
    """Deal the rows, shuffled by ``seed``, to the three sites; returns {site: {path: row}}."""
    rows = rows[:]
    random.Random(seed).shuffle(rows)
    labels: dict[str, dict] = {site: {} for site in SITES}
    posts: dict[str, list[dict]] = {site: [] for site in SITES}
    for i, row in enumerate(rows):
        site = SITES[i % len(SITES)]
        post, path = site_post(site, 100 + i, row)
        posts[site].append(post)
        labels[site][path] = {"label": row["label"], "category": row["category"],
                              "id": row["id"]}
    for site in SITES:
        with open(data_dir / f"{site}.jsonl", "w", encoding="utf-8") as handle:
            for post in posts[site]:
                handle.write(json.dumps(post, ensure_ascii=False) + "\n")
    return labels


# --- the crawl ------------------------------------------------------------------------------------

def source_files(ports: dict[str, int], directory: Path) -> list[Path]:
    from crawler.config import BUNDLED_DIR
    from crawler.sandbox import DEFAULT_PORTS

    paths = []
    for site in SITES:
        text = (BUNDLED_DIR / f"sandbox_{site}.yaml").read_text(encoding="utf-8")
        text = text.replace(f"127.0.0.1:{DEFAULT_PORTS[site]}", f"127.0.0.1:{ports[site]}")
        text = text.replace("max_pages: 20", f"max_pages: {MAX_PAGES}")
        path = directory / f"sandbox_{site}.yaml"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def environment(workdir: Path, rate: float) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "TUTORWATCH_DATA_DIR": str(workdir),
            "TUTORWATCH_DB": f"sqlite:///{workdir / 'store.sqlite3'}",
            "TUTORWATCH_ALLOW_NETWORKS": "127.0.0.0/8", "TUTORWATCH_SAMPLE_RATE": str(rate),
            "TUTORWATCH_CAPTURE": "0", "TUTORWATCH_CRAWL_LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "review_ui.settings"}


def cli(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-m", "review_ui.cli", *args], env=env, cwd=ROOT,
                          capture_output=True)
    if done.returncode:
        sys.exit(f"tutorwatch {args[0]} failed:\n{done.stderr.decode()[-3000:]}")
    return done.stdout.decode()


def run_once(rows: list[dict], rate: float, seed: int, partial: float, tmp: Path) -> dict:
    from crawler.sandbox import start_sandbox

    workdir = tmp / f"rate{rate}-seed{seed}"
    data_dir = workdir / "sandbox"
    data_dir.mkdir(parents=True)
    labels = write_sandbox(data_dir, rows, seed)
    (workdir / "labels.json").write_text(json.dumps(labels, ensure_ascii=False))
    sandbox = start_sandbox({site: 0 for site in SITES}, data_dir=data_dir)
    env = environment(workdir, rate)
    started = time.monotonic()
    try:
        cli(["migrate", "-v", "0"], env)
        sources = source_files(sandbox.ports, workdir)
        args = ["crawl"] + [a for path in sources for a in ("--source", str(path))]
        cli(args, env)
    finally:
        sandbox.stop()
    crawled = time.monotonic() - started
    # -P: not benchmarks/ first on sys.path, where review_ui.py (a benchmark) would shadow the app.
    done = subprocess.run([sys.executable, "-P", __file__, "--evaluate", str(workdir),
                           "--partial", str(partial), "--seed", str(seed)], env=env,
                          cwd=ROOT, capture_output=True)
    if done.returncode:
        sys.exit(f"evaluation failed:\n{done.stderr.decode()[-3000:]}")
    result = json.loads(done.stdout.decode().strip().splitlines()[-1])
    result.update(rate=rate, seed=seed, crawl_seconds=crawled,
                  seconds=time.monotonic() - started)
    return result


# --- deciding and estimating (in the store's own process) -----------------------------------------

def evaluate(workdir: Path, partial: float, seed: int) -> dict:
    """Decide the queued items by their posts' labels, and compare the estimates with the truth:
    first with every sample but only a share ``partial`` of the flagged items decided (drawn by
    ``seed``), as on a dashboard mid-review, where the precision interval has a width; then
    with every item decided."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from review_ui.models import Ad, ReviewItem
    from review_ui.roles import OFFICERS, ensure_roles, grant

    labels = json.loads((workdir / "labels.json").read_text())
    by_path = {path: info for site in labels.values() for path, info in site.items()}
    ensure_roles()
    officer = get_user_model().objects.create_user("bench_officer", password="x" * 20)
    grant(officer, OFFICERS)

    def known(ad: Ad) -> dict | None:
        return by_path.get(urlsplit(ad.url).path)

    truth: dict[str, dict[str, int]] = {}
    unknown_ads = 0
    for ad in Ad.objects.select_related("verdict", "source"):
        info = known(ad)
        if info is None or ad.verdict is None:
            unknown_ads += 1
            continue
        for key in (ad.source.name, ""):
            counts = truth.setdefault(key, {"ads": 0, "positives": 0, "flagged": 0,
                                            "flagged_positives": 0})
            counts["ads"] += 1
            counts["positives"] += info["label"]
            counts["flagged"] += bool(ad.verdict.label)
            counts["flagged_positives"] += bool(ad.verdict.label) and info["label"]
    units = _unit_truth(known)

    pending = list(ReviewItem.objects.filter(status=ReviewItem.Status.PENDING)
                   .select_related("ad").order_by("pk"))
    random.Random(seed).shuffle(pending)
    flags = [item for item in pending if not item.sample]
    first = [item for item in pending if item.sample] + flags[:round(partial * len(flags))]
    chosen = {item.pk for item in first}
    rest = [item for item in pending if item.pk not in chosen]
    unknown_items = _decide(first, officer, known)
    stages = {}
    if rest:
        stages[f"{partial:.0%} of flags decided"] = _figures(truth, units)
    unknown_items += _decide(rest, officer, known)
    stages["all decided"] = _figures(truth, units)
    return {"stages": stages, "unknown_items": unknown_items, "unknown_ads": unknown_ads}


def _decide(items: list, officer, known) -> int:
    """Decide ``items`` as an officer who knows each post's label would, through the model
    method the UI uses, naming the post's category as the reason; returns the items whose post
    has no known label (left pending)."""
    from review_ui.models import ReviewItem
    from review_ui.reasons import DISMISSAL_CODES, VIOLATION_CODES

    S = ReviewItem.Status
    unknown = 0
    for item in items:
        info = known(item.ad)
        if info is None:
            unknown += 1
        elif info["label"]:
            reason = info["category"] if info["category"] in VIOLATION_CODES else "open_tutoring"
            item.decide(officer, S.CONFIRMED, reason=reason, note="recall benchmark")
        else:
            reason = info["category"] if info["category"] in DISMISSAL_CODES else "unrelated"
            item.decide(officer, S.DISMISSED, reason=reason, note="recall benchmark")
    return unknown


def _figures(truth: dict, units: dict) -> list[dict]:
    """The estimates from ``review_ui.estimates.build`` beside the truth, overall and per source."""
    from review_ui import estimates

    built = estimates.build()
    rows = [("", built.total)] + [(s.source, s.total) for s in built.sources]
    out = []
    for name, cell in rows:
        t = truth.get(name, {})
        recall = t["flagged_positives"] / t["positives"] if t.get("positives") else None
        precision = t["flagged_positives"] / t["flagged"] if t.get("flagged") else None
        out.append({
            "source": name or "all", "ads": t.get("ads", 0), "positives": t.get("positives", 0),
            "flagged_items": cell.flagged, "decided": cell.decided, "unflagged": cell.unflagged,
            "samples": cell.samples_decided, "sample_violations": cell.samples_violations,
            "recall": cell.recall, "recall_interval": _pair(cell.recall_interval),
            "true_recall": recall, "precision": cell.precision,
            "precision_interval": _pair(cell.precision_interval), "true_precision": precision,
            **units.get(name, {}),
        })
    return out


def _unit_truth(known) -> dict[str, dict[str, float | None]]:
    """The truth on the units the estimator counts: one per flagged item (a group of copies has
    one) and one per unflagged ad, as ``review_ui.estimates.build`` selects them. A flagged copy
    linked to its group's item is no unit of its own, so this differs a little from the truth
    per ad when copies were crawled."""
    from django.db.models import Q

    from review_ui.estimates import EXCLUDED
    from review_ui.models import Ad, ReviewItem

    counts: dict[str, list[int]] = {}  # [flagged, flagged positive, unflagged positive]

    def add(source: str, slot: int, ad) -> None:
        info = known(ad)
        if info is None:
            return
        for key in (source, ""):
            row = counts.setdefault(key, [0, 0, 0])
            if slot == 0:
                row[0] += 1
                row[1] += info["label"]
            else:
                row[2] += info["label"]

    for item in (ReviewItem.objects.exclude(EXCLUDED).filter(sample=False)
                 .select_related("ad__source")):
        add(item.ad.source.name, 0, item.ad)
    unflagged = (Ad.objects.filter(Q(verdict__label=False) | Q(review_item__sample=True))
                 .exclude(review_item__sample=False)
                 .exclude(pk__in=ReviewItem.objects.filter(EXCLUDED).values("ad_id"))
                 .select_related("source"))
    for ad in unflagged:
        add(ad.source.name, 2, ad)
    out = {}
    for key, (flagged, hits, missed) in counts.items():
        out[key] = {"unit_recall": hits / (hits + missed) if hits + missed else None,
                    "unit_precision": hits / flagged if flagged else None}
    return out


def _pair(interval) -> list[float] | None:
    return None if interval is None else [interval.low, interval.high]


# --- the report -----------------------------------------------------------------------------------

def covers(interval: list[float] | None, value: float | None) -> bool | None:
    if interval is None or value is None:
        return None
    return interval[0] - 1e-12 <= value <= interval[1] + 1e-12


def _f(value: float | None) -> str:
    return "  —  " if value is None else f"{value:.3f}"


def _i(interval: list[float] | None) -> str:
    return "—" if interval is None else f"[{interval[0]:.3f}, {interval[1]:.3f}]"


def _cov(hit: bool | None) -> str:
    return "—" if hit is None else ("yes" if hit else "NO")


def report(results: list[dict]) -> None:
    """One table per run and stage; "t/ad" is the truth per ad stored, "t/unit" per unit the
    estimator counts (a flagged group of copies once)."""
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}")
    tally: dict[tuple[str, str, str], list[int]] = {}
    for result in results:
        print(f"\nrate {result['rate']}, seed {result['seed']}: "
              f"crawl {result['crawl_seconds']:.0f} s, all {result['seconds']:.0f} s; "
              f"items / ads without a known label: "
              f"{result['unknown_items']} / {result['unknown_ads']}")
        for stage, rows in result["stages"].items():
            print(f"  {stage}")
            print(f"{'source':18} {'ads':>4} {'pos':>3} {'flag':>4} {'dcd':>4} {'unfl':>4} "
                  f"{'smpl':>4} {'s+':>2} | {'recall':>6} {'95% interval':>14} {'t/ad':>5} cov "
                  f"{'t/unit':>6} cov | {'prec':>5} {'95% interval':>14} {'t/ad':>5} cov "
                  f"{'t/unit':>6} cov")
            for row in rows:
                cells = []
                for what in ("recall", "precision"):
                    hits = []
                    for unit in ("ad", "unit"):
                        truth = row.get(f"unit_{what}" if unit == "unit" else f"true_{what}")
                        hit = covers(row[f"{what}_interval"], truth)
                        if hit is not None:
                            count = tally.setdefault((stage, what, unit), [0, 0])
                            count[0] += hit
                            count[1] += 1
                        hits.append(hit)
                    cells.append(f"{_f(row[what]):>6} {_i(row[f'{what}_interval']):>14} "
                                 f"{_f(row[f'true_{what}']):>5} {_cov(hits[0]):>3} "
                                 f"{_f(row.get(f'unit_{what}')):>6} {_cov(hits[1]):>3}")
                print(f"{row['source']:18} {row['ads']:>4} {row['positives']:>3} "
                      f"{row['flagged_items']:>4} {row['decided']:>4} {row['unflagged']:>4} "
                      f"{row['samples']:>4} {row['sample_violations']:>2} | {cells[0]} | "
                      f"{cells[1]}")
    print()
    for (stage, what, unit), (hits, n) in tally.items():
        print(f"{stage}: {what} intervals covering the true {what} per {unit}: {hits} of {n} "
              f"rows (overall and per source)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", type=float, nargs="+", default=[0.1, 0.2, 0.3])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--partial", type=float, default=0.3,
                        help="share of the flagged items decided at the first look (default 0.3)")
    parser.add_argument("--evaluate", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.evaluate:
        print(json.dumps(evaluate(args.evaluate, args.partial, args.seed)))
        return
    if not all(0 < rate <= 1 for rate in args.rates):
        parser.error("each rate must be in (0, 1]")
    if not 0 < args.partial <= 1:
        parser.error("--partial must be in (0, 1]")
    sys.path.insert(0, str(ROOT))
    rows = labeled_posts()
    print(f"posts: {len(rows)} ({sum(r['label'] for r in rows)} positive), "
          f"dev split + {REAL_WORLD.name}")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, rate in enumerate(args.rates):
            results.append(run_once(rows, rate, args.seed + i, args.partial, Path(tmp)))
            print(f"  rate {rate} done in {results[-1]['seconds']:.0f} s", flush=True)
    report(results)


if __name__ == "__main__":
    main()
