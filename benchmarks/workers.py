"""Scale-out of a shared crawl: two Redis workers against one, on many slow sites.

``--sites`` sandbox sites (``crawler/sandbox/slow.py``), each on a loopback address of its own
(so each is its own download slot), whose detail pages take ``--delay`` seconds, are crawled as
one source by one shared crawl (``TUTORWATCH_REDIS_URL``), first by one ``tutorwatch crawl``
worker, then by two started together, alternated ``--repeat`` times. Each worker may have
``CONCURRENT_REQUESTS`` (4) requests under way: that is what binds, not the per-site limit
(``CONCURRENT_REQUESTS_PER_DOMAIN``, 8), which the workers hold together through Redis.

Each crawl is timed from the launch of its workers to the exit of the last (start-up included)
and from the first page the sites served to the last (the crawl alone); CPU seconds are those of
the workers and their children. Prints the medians, the ratios one / two of both (target ≥ 1.8)
and each site's most simultaneous requests, which must stay within the per-site limit.

    python benchmarks/workers.py [--sites 8] [--pages 160] [--per-list 39] [--delay 0.2]
                                 [--repeat 3] [--redis redis://127.0.0.1:6379/15]

Each crawl goes into a fresh SQLite store (migrated before the clock starts); no screenshots
(``TUTORWATCH_CAPTURE=0``).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# benchmarks/crawl.py (this script's directory): the workers launched and timed together.
from crawl import timed  # noqa: E402

from crawler.sandbox.slow import slow_source_yaml, start_slow_sites  # noqa: E402

PER_DOMAIN = 8
CONCURRENT = 4


@dataclass
class Run:
    workers: int
    wall: float  # launch of the workers to the exit of the last
    served: float  # first page served to the last
    cpu: float
    pages: list[int]  # per worker
    most: list[int]  # per site


def crawl(workers: int, source: Path, handles: list, workdir: Path, redis_url: str) -> Run:
    label = f"w{workers}-{uuid.uuid4().hex[:6]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUTORWATCH_REDIS")}
    env.update({"TUTORWATCH_DATA_DIR": str(workdir / label),
                "TUTORWATCH_DB": f"sqlite:///{workdir / f'{label}.sqlite3'}",
                "TUTORWATCH_REDIS_URL": redis_url, "TUTORWATCH_REDIS_PREFIX": f"twbench-{label}",
                "TUTORWATCH_CRAWL_LOG_LEVEL": "WARNING", "TUTORWATCH_CAPTURE": "0",
                "TUTORWATCH_ALLOW_NETWORKS": "127.0.0.0/8",
                "DJANGO_SETTINGS_MODULE": "review_ui.settings"})
    cli = [sys.executable, "-m", "review_ui.cli"]
    subprocess.run([*cli, "migrate", "-v", "0"], env=env, cwd=ROOT, check=True)
    for handle in handles:
        handle.site.reset()
    command = [*cli, "crawl", "--source", str(source), "-s", f"CONCURRENT_REQUESTS={CONCURRENT}",
               "-s", f"CONCURRENT_REQUESTS_PER_DOMAIN={PER_DOMAIN}"]
    outs, wall, cpu = timed(command, env, ROOT, workers)
    sites = [handle.site for handle in handles]
    served = max(s.last for s in sites) - min(s.first for s in sites)
    pages = [int(re.search(r"pages (\d+)", out).group(1)) for out in outs]
    for site in sites:
        fetched = {path: n for path, n in site.hits.items() if path != "/robots.txt"}
        if len(fetched) != site.pages or set(fetched.values()) != {1}:
            raise SystemExit(f"not every page fetched once: {len(fetched)} of {site.pages}")
    return Run(workers, wall, served, cpu, pages, [s.most for s in sites])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=8)
    parser.add_argument("--pages", type=int, default=160, help="pages per site")
    parser.add_argument("--delay", type=float, default=0.2, help="seconds per detail page")
    parser.add_argument("--per-list", type=int, default=39,
                        help="detail links per list page (few: the chain of list pages binds)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--redis", default=os.environ.get("TUTORWATCH_TEST_REDIS",
                                                          "redis://127.0.0.1:6379/15"))
    args = parser.parse_args()

    handles = start_slow_sites(args.sites, args.pages, args.delay, args.per_list)
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"{args.sites} sites × {args.pages} pages, {args.delay} s a detail page; "
          f"CONCURRENT_REQUESTS={CONCURRENT} per worker, {PER_DOMAIN} per site; "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    runs: dict[int, list[Run]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory(prefix="tw-workers-") as tmp:
        workdir = Path(tmp)
        source = workdir / "slow.yaml"
        source.write_text(slow_source_yaml("slow", handles), encoding="utf-8")
        for _ in range(args.repeat):
            for workers in (1, 2):
                run = crawl(workers, source, handles, workdir, args.redis)
                runs[workers].append(run)
                print(f"{workers} worker(s): {run.wall:.1f} s launch to exit, {run.served:.1f} s "
                      f"first to last page served, {run.cpu:.1f} CPU s; pages per worker "
                      f"{run.pages}; most at once per site {run.most}; "
                      f"load {os.getloadavg()[0]:.1f}", flush=True)
    for handle in handles:
        handle.stop()

    def median(workers: int, what: str) -> float:
        return statistics.median(getattr(run, what) for run in runs[workers])

    most = max(m for group in runs.values() for run in group for m in run.most)
    print(f"\nmedians of {args.repeat}: one worker {median(1, 'wall'):.1f} s "
          f"({median(1, 'served'):.1f} s serving), two {median(2, 'wall'):.1f} s "
          f"({median(2, 'served'):.1f} s serving); CPU s {median(1, 'cpu'):.1f} / "
          f"{median(2, 'cpu'):.1f}")
    print(f"ratio one / two: {median(1, 'wall') / median(2, 'wall'):.2f} launch to exit, "
          f"{median(1, 'served') / median(2, 'served'):.2f} first to last page served "
          f"(target ≥ 1.8)")
    print(f"most simultaneous requests at one site: {most} (limit {PER_DOMAIN}: "
          f"{'held' if most <= PER_DOMAIN else 'EXCEEDED'})")
    if most > PER_DOMAIN:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
