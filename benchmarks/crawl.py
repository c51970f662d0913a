"""Crawl throughput on a 1,500-page sandbox site (``crawler/sandbox/bulk.py``, served by its own
process): the full pipeline (clean text, contacts, classify, store) against plain Scrapy with the
same spider, settings and pages but no item pipelines, in one run; then the full pipeline in
distributed mode with 1 and with 2 workers sharing a Redis frontier.

    python benchmarks/crawl.py [--pages 1500] [--per-list 49] [--repeat 2]
                               [--redis redis://127.0.0.1:6379/15]
                               [--db postgresql://postgres@127.0.0.1:5432/tw_bench]
                               [--pipeline process|thread]

Each crawl goes into a fresh store: a SQLite file, or with ``--db`` a PostgreSQL database that is
created and dropped (two workers writing one SQLite file mostly wait for its lock). Prints
pages/s for each, the throughput ratio full / plain, and the 2-worker scaling.

``--pipeline thread`` scores and stores on a thread of the crawl process instead of the default
child process (``TUTORWATCH_PIPELINE_PROCESS``).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.sandbox.bulk import source_yaml  # noqa: E402


def serve(pages: int, per_list: int) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "-m", "crawler.sandbox.bulk", "--pages", str(pages),
               "--per-list", str(per_list)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    return process, process.stdout.readline().strip()


class Store:
    """A fresh database per crawl."""

    def __init__(self, workdir: Path, pg: str | None) -> None:
        self.workdir, self.pg, self.created = workdir, pg, []

    def new(self, label: str) -> str:
        if not self.pg:
            return f"sqlite:///{self.workdir / f'{label}.sqlite3'}"
        import psycopg

        admin = self.pg.rsplit("/", 1)[0] + "/postgres"
        name = f"tw_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return self.pg.rsplit("/", 1)[0] + f"/{name}"

    def drop_all(self) -> None:
        if not self.pg:
            return
        import psycopg

        admin = self.pg.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            for name in self.created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def env_for(workdir: Path, db: str, redis: dict[str, str] | None = None,
            pipeline: str = "process") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUTORWATCH_REDIS")}
    env.update({"TUTORWATCH_DATA_DIR": str(workdir), "TUTORWATCH_DB": db,
                "TUTORWATCH_PIPELINE_PROCESS": "1" if pipeline == "process" else "0",
                "TUTORWATCH_CRAWL_LOG_LEVEL": "WARNING",
                "TUTORWATCH_ALLOW_NETWORKS": "127.0.0.0/8",  # the bulk site is on 127.0.0.1
                "DJANGO_SETTINGS_MODULE": "review_ui.settings"})
    env.update(redis or {})
    return env


def cli(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "review_ui.cli", *args], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def crawl(source: Path, env: dict[str, str], workers: int = 1,
          plain: bool = False) -> tuple[int, int, float]:
    """(pages, ads, seconds): seconds from the crawl's start to the last worker's end, as the
    crawl command times it (model loading and process start-up excluded)."""
    subprocess.run([sys.executable, "-m", "review_ui.cli", "migrate", "-v", "0"], env=env,
                   cwd=ROOT, check=True)
    args = ["crawl", "--source", str(source)] + (["-s", "ITEM_PIPELINES={}"] if plain else [])
    processes = [cli(args, env) for _ in range(workers)]
    pages = ads = 0
    seconds = 0.0
    for process in processes:
        out, err = process.communicate()
        if process.returncode != 0:
            raise SystemExit(f"crawl failed ({process.returncode}):\n{out}\n{err[-3000:]}")
        pages += sum(int(n) for n in re.findall(r"pages (\d+)", out))
        ads += sum(int(n) for n in re.findall(r"ads (\d+)", out))
        seconds = max(seconds, float(re.search(r"done in ([\d.]+) s", out).group(1)))
    return pages, ads, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1500)
    parser.add_argument("--per-list", type=int, default=49,
                        help="ads per list page (49: 30 list pages for 1,500 pages)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--redis", default=os.environ.get("TUTORWATCH_TEST_REDIS",
                                                          "redis://127.0.0.1:6379/15"))
    parser.add_argument("--db", default=None, help="a PostgreSQL URL for the stores")
    parser.add_argument("--pipeline", choices=("process", "thread"), default="process",
                        help="where the full pipeline scores and stores (default: process)")
    args = parser.parse_args()

    server, url = serve(args.pages, args.per_list)
    results: dict[str, tuple[int, int, float]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            source = workdir / "bulk.yaml"
            source.write_text(source_yaml("bench_bulk", url), encoding="utf-8")
            stores = Store(workdir, args.db)
            try:
                for mode in ("plain", "full"):
                    best = None
                    for i in range(args.repeat):
                        env = env_for(workdir, stores.new(f"{mode}{i}"), pipeline=args.pipeline)
                        result = crawl(source, env, plain=mode == "plain")
                        if best is None or result[2] < best[2]:
                            best = result
                    results[mode] = best
                for workers in (1, 2):
                    redis = {"TUTORWATCH_REDIS_URL": args.redis,
                             "TUTORWATCH_REDIS_PREFIX": f"twbench-{uuid.uuid4().hex[:8]}"}
                    env = env_for(workdir, stores.new(f"redis{workers}"), redis, args.pipeline)
                    results[f"redis x{workers}"] = crawl(source, env, workers=workers)
            finally:
                stores.drop_all()
    finally:
        server.terminate()
        server.wait()

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}; store: {'PostgreSQL' if args.db else 'SQLite'}")
    print(f"site: {args.pages} pages, {args.per_list} ads per list page; "
          f"scoring and storing on a {args.pipeline}")
    rates = {}
    for mode, (pages, ads, seconds) in results.items():
        rates[mode] = pages / seconds
        print(f"{mode:9}: {pages} pages, {ads} ads, {seconds:.2f} s "
              f"({pages / seconds:.0f} pages/s)")
    print(f"throughput ratio full pipeline / plain Scrapy: {rates['full'] / rates['plain']:.2f}")
    print(f"distributed scaling, 2 workers / 1 worker: {rates['redis x2'] / rates['redis x1']:.2f}")


if __name__ == "__main__":
    started = time.monotonic()
    main()
    print(f"benchmark took {time.monotonic() - started:.0f} s")
