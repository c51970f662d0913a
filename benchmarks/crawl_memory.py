"""Crawl memory: does a long crawl keep its resident memory flat?

Serves a bulk sandbox site of ``--pages`` pages (``crawler/sandbox/bulk.py``, 100,000 by default:
2,000 list pages of 49 ads) on 127.0.0.1 in this process, runs ``tutorwatch crawl`` on it into
a fresh store with a ``JOBDIR`` (or, with ``--redis``, on a shared Redis frontier), and every
``--interval`` seconds samples the resident memory (RSS) of the crawl process and of its
pipeline worker process, the pages served so far, the size of the JOBDIR and, with ``--redis``,
the Redis frontier (its length and the memory its keys use). Prints a line per sample as it
goes, then the curve at each tenth of the pages.

    python benchmarks/crawl_memory.py [--pages 100000] [--per-list 49] [--interval 5]
                                      [--plain] [--redis redis://127.0.0.1:6379/4]
                                      [--db postgresql://postgres@127.0.0.1:5432/tw_x]
                                      [--set NAME=VALUE ...]

``--plain`` crawls without the item pipelines (no scoring or storing): the crawl's own
memory (scheduler, duplicate filter, JOBDIR) alone. Memory is read from ``/proc``.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.sandbox.bulk import BulkSite, source_yaml, start_bulk_site  # noqa: E402


def rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` in MiB (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0.0


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(n) for n in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            pass
    return found


def dir_mib(path: Path) -> float:
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(folder, name))
            except FileNotFoundError:
                pass
    return total / 2 ** 20


class RedisProbe:
    """Length and memory of the crawl's keys in Redis (``P:S:requests``, ``P:S:dupefilter``)."""

    def __init__(self, url: str, prefix: str, source: str) -> None:
        import redis

        self.server = redis.Redis.from_url(url)
        self.base = f"{prefix}:{source}"

    def sample(self) -> tuple[int, int, float]:
        queue, seen = f"{self.base}:requests", f"{self.base}:dupefilter"
        used = sum(self.server.memory_usage(key) or 0 for key in (queue, seen))
        return self.server.zcard(queue), self.server.scard(seen), used / 2 ** 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100_000)
    parser.add_argument("--per-list", type=int, default=49)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--plain", action="store_true", help="no item pipelines")
    parser.add_argument("--redis", default=None, help="crawl on a Redis frontier at this URL")
    parser.add_argument("--db", default=None, help="a PostgreSQL URL for the store")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a Scrapy setting for the crawl (repeatable)")
    args = parser.parse_args()

    site = start_bulk_site(BulkSite(pages=args.pages, per_list=args.per_list))
    samples: list[tuple[float, int, float, float, float, str]] = []
    pg_name = None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            jobdir = workdir / "job"
            source = workdir / "memory.yaml"
            name = "bench_memory"
            source.write_text(source_yaml(name, site.url, extra=f"max_pages: {site.site.lists}\n"),
                              encoding="utf-8")
            db = f"sqlite:///{workdir / 'store.sqlite3'}"
            if args.db:
                import psycopg

                pg_name = f"tw_gbkcrawl_mem_{uuid.uuid4().hex[:6]}"
                with psycopg.connect(args.db.rsplit("/", 1)[0] + "/postgres",
                                     autocommit=True) as conn:
                    conn.execute(f'CREATE DATABASE "{pg_name}"')
                db = args.db.rsplit("/", 1)[0] + f"/{pg_name}"
            env = {k: v for k, v in os.environ.items() if not k.startswith("TUTORWATCH_REDIS")}
            env.update({"TUTORWATCH_DATA_DIR": str(workdir), "TUTORWATCH_DB": db,
                        "TUTORWATCH_CRAWL_LOG_LEVEL": "WARNING",
                        "TUTORWATCH_ALLOW_NETWORKS": "127.0.0.0/8",
                        "TUTORWATCH_CAPTURE": "0",  # no screenshot worker beside the crawl
                        "DJANGO_SETTINGS_MODULE": "review_ui.settings"})
            probe = None
            command = [sys.executable, "-m", "review_ui.cli", "crawl", "--source", str(source)]
            if args.redis:
                prefix = f"twmem-{uuid.uuid4().hex[:8]}"
                env.update({"TUTORWATCH_REDIS_URL": args.redis, "TUTORWATCH_REDIS_PREFIX": prefix})
                probe = RedisProbe(args.redis, prefix, name)
            else:
                command += ["-s", f"JOBDIR={jobdir}"]
            if args.plain:
                command += ["-s", "ITEM_PIPELINES={}"]
            for setting in args.set:
                command += ["-s", setting]
            subprocess.run([sys.executable, "-m", "review_ui.cli", "migrate", "-v", "0"],
                           env=env, cwd=ROOT, check=True)
            print(f"pages {args.pages}; {'Redis frontier' if args.redis else 'JOBDIR'}; "
                  f"{'no item pipelines' if args.plain else 'full pipeline'}; "
                  f"store {'PostgreSQL' if args.db else 'SQLite'}", flush=True)
            print(f"{'s':>6} {'pages':>7} {'crawl MiB':>9} {'worker MiB':>10} "
                  f"{'JOBDIR MiB':>10}  redis (queue, seen, MiB)", flush=True)
            started = time.monotonic()
            crawl = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
            while crawl.poll() is None:
                time.sleep(args.interval)
                worker = max((rss_mib(c) for c in children(crawl.pid)), default=0.0)
                pages = sum(site.site.hits.values())
                redis = ""
                if probe is not None:
                    queue, seen, used = probe.sample()
                    redis = f"{queue}, {seen}, {used:.1f}"
                sample = (time.monotonic() - started, pages, rss_mib(crawl.pid), worker,
                          dir_mib(jobdir), redis)
                if sample[2]:
                    samples.append(sample)
                    print(f"{sample[0]:6.0f} {pages:7} {sample[2]:9.1f} {worker:10.1f} "
                          f"{sample[4]:10.2f}  {redis}", flush=True)
            out, err = crawl.communicate()
            if crawl.returncode != 0:
                raise SystemExit(f"crawl failed ({crawl.returncode}):\n{out}\n{err[-3000:]}")
            print(out.strip())
    finally:
        site.stop()
        if pg_name:
            import psycopg

            with psycopg.connect(args.db.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')

    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}")
    print("the curve (the sample nearest each tenth of the pages):")
    print("| pages | s | crawl process RSS MiB | worker RSS MiB | JOBDIR MiB "
          "| Redis queue, seen, MiB |")
    print("|---|---|---|---|---|---|")
    for tenth in range(1, 11):
        target = args.pages * tenth / 10
        s = min(samples, key=lambda x: abs(x[1] - target))
        print(f"| {s[1]} | {s[0]:.0f} | {s[2]:.1f} | {s[3]:.1f} | {s[4]:.2f} | {s[5]} |")
    peak = max(samples, key=lambda x: x[2])
    print(f"peak crawl RSS {peak[2]:.1f} MiB at {peak[1]} pages; "
          f"peak worker RSS {max(x[3] for x in samples):.1f} MiB")


if __name__ == "__main__":
    main()
