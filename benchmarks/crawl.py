"""Crawl throughput on a 1,500-page sandbox site served by its own process: the bulk site
(``crawler/sandbox/bulk.py``, UTF-8) or, with ``--site discuz``, a Discuz! forum in GBK that
declares its charset only in ``<meta>`` (``crawler/sandbox/discuz.py``, 1,500 threads).

Three ways of crawling the same pages, alternated, ``--repeat`` times each:

- ``scrapy``: plain Scrapy, run from a temporary directory outside the checkout
  (``scrapy runspider``, no tutorwatch code or settings): a spider with the same selectors, the
  same concurrency and robots.txt, that reads each page's fields and drops the items. The floor.
- ``plain``: ``tutorwatch crawl -s ITEM_PIPELINES={}`` (tutorwatch's spider, middlewares and
  extensions, no item pipelines).
- ``full``: ``tutorwatch crawl`` (clean text, contacts, classify, store).

Each is timed as a whole process (start-up included: wall seconds from the start of the process
to its exit, and the CPU seconds of it and its children) and, for the tutorwatch ones, as the
crawl command times its crawl ("done in"). Then, unless ``--no-redis``, the full pipeline in
distributed mode with 1 and with 2 workers sharing a Redis frontier.

    python benchmarks/crawl.py [--site bulk|discuz] [--pages 1500] [--per-list 49]
                               [--repeat 3] [--no-redis]
                               [--redis redis://127.0.0.1:6379/15]
                               [--db postgresql://postgres@127.0.0.1:5432/tw_bench]
                               [--pipeline process|thread]

Each tutorwatch crawl goes into a fresh store (migrated before the clock starts): a SQLite file,
or with ``--db`` a PostgreSQL database that is created and dropped (two workers writing one
SQLite file mostly wait for its lock). Prints the median of each and the throughput ratios
full / scrapy (whole process: the target), full / plain, and the 2-worker scaling.

``--pipeline thread`` scores and stores on a thread of the crawl process instead of the default
child process (``TUTORWATCH_PIPELINE_PROCESS``).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.sandbox import bulk, discuz  # noqa: E402

# The plain Scrapy floor: a spider file run by `scrapy runspider` from outside the checkout.
# {settings} and the selectors are filled in per site; it prints the pages and items it saw.
SCRAPY_SPIDER = """\
import scrapy


class Plain(scrapy.Spider):
    name = "plain"
    start_urls = [{start!r}]
    custom_settings = {{
        "ROBOTSTXT_OBEY": True, "CONCURRENT_REQUESTS": 16, "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
        "COOKIES_ENABLED": False, "DOWNLOAD_TIMEOUT": 10, "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "WARNING", "DEPTH_LIMIT": 0,
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
    }}

    def parse(self, response):
        for href in response.css({links!r}).getall():
            yield response.follow(href.strip(), self.parse_detail)
        nxt = response.css({next!r}).get()
        if nxt:
            yield response.follow(nxt.strip(), self.parse)

    def parse_detail(self, response):
        body = response.xpath({body!r})
        yield {{
            "url": response.url,
            "title": " ".join(t.strip() for t in response.css({title!r}).getall()),
            "body": "\\n".join(t.strip() for t in body.xpath(".//text()").getall() if t.strip()),
            "posted_at": " ".join(response.xpath({posted!r}).getall()),
            "raw": response.body,
        }}

    def closed(self, reason):
        stats = self.crawler.stats
        print("pages", stats.get_value("response_received_count", 0),
              "ads", stats.get_value("item_scraped_count", 0), flush=True)
"""

SITES = {
    "bulk": dict(start="/list/1.html", links="ul.ads a.ad::attr(href)", next="a.next::attr(href)",
                 title="h1.title::text", body="//div[@class='body']",
                 posted="//span[@class='time']/text()"),
    "discuz": dict(start="/forumdisplay.php?fid=2&page=1",
                   links="tbody[id^=normalthread_] span[id^=thread_] a::attr(href)",
                   next="div.pages a.next::attr(href)", title="#threadtitle h1::text",
                   body="(//div[starts-with(@id, 'postmessage_')])[1]",
                   posted="(//em[starts-with(@id, 'authorposton')])[1]/text()"),
}


def serve(site: str, pages: int, per_list: int) -> tuple[subprocess.Popen, str]:
    if site == "discuz":
        command = [sys.executable, "-m", "crawler.sandbox.discuz", "--threads",
                   str(pages), "--per-list", str(per_list)]
    else:
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
        # Named after the database of --db (tw_bench_… by default), which it is created beside.
        name = f"{self.pg.rsplit('/', 1)[1] or 'tw_bench'}_{uuid.uuid4().hex[:8]}"
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
        self.created = []


def env_for(workdir: Path, db: str, redis: dict[str, str] | None = None,
            pipeline: str = "process") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUTORWATCH_REDIS")}
    env.update({"TUTORWATCH_DATA_DIR": str(workdir), "TUTORWATCH_DB": db,
                "TUTORWATCH_PIPELINE_PROCESS": "1" if pipeline == "process" else "0",
                "TUTORWATCH_CRAWL_LOG_LEVEL": "WARNING",
                "TUTORWATCH_ALLOW_NETWORKS": "127.0.0.0/8",  # the sandbox site is on 127.0.0.1
                "TUTORWATCH_CAPTURE": "0",  # no screenshot worker (Chromium) beside the crawl
                "DJANGO_SETTINGS_MODULE": "review_ui.settings"})
    env.update(redis or {})
    return env


class Run:
    """One timed crawl: pages, ads, the crawl's own seconds ("done in"; the whole process's for
    plain Scrapy), the whole process's wall seconds and CPU seconds (itself and its children)."""

    def __init__(self, pages: int, ads: int, crawl: float, wall: float, cpu: float) -> None:
        self.pages, self.ads, self.crawl, self.wall, self.cpu = pages, ads, crawl, wall, cpu


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], env: dict[str, str], cwd: Path, workers: int = 1) -> list:
    cpu0, started = _children_cpu(), time.monotonic()
    processes = [subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(workers)]
    outs = []
    for process in processes:
        out, err = process.communicate()
        if process.returncode != 0:
            raise SystemExit(f"crawl failed ({process.returncode}):\n{out}\n{err[-3000:]}")
        outs.append(out)
    return [outs, time.monotonic() - started, _children_cpu() - cpu0]


def tutorwatch(source: Path, env: dict[str, str], workers: int = 1, plain: bool = False) -> Run:
    subprocess.run([sys.executable, "-m", "review_ui.cli", "migrate", "-v", "0"], env=env,
                   cwd=ROOT, check=True)
    args = ["crawl", "--source", str(source)] + (["-s", "ITEM_PIPELINES={}"] if plain else [])
    outs, wall, cpu = timed([sys.executable, "-m", "review_ui.cli", *args], env, ROOT, workers)
    pages = sum(int(n) for out in outs for n in re.findall(r"pages (\d+)", out))
    ads = sum(int(n) for out in outs for n in re.findall(r"ads (\d+)", out))
    crawl = max(float(re.search(r"done in ([\d.]+) s", out).group(1)) for out in outs)
    return Run(pages, ads, crawl, wall, cpu)


def plain_scrapy(spider: Path, workdir: Path) -> Run:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TUTORWATCH", "DJANGO", "SCRAPY")) and k != "PYTHONPATH"}
    outs, wall, cpu = timed([sys.executable, "-m", "scrapy", "runspider", str(spider)], env,
                            workdir)
    pages, ads = (int(n) for n in re.search(r"pages (\d+) ads (\d+)", outs[0]).groups())
    return Run(pages, ads, wall, wall, cpu)


def median_run(runs: list[Run]) -> Run:
    def med(name: str) -> float:
        return statistics.median(getattr(r, name) for r in runs)

    return Run(runs[0].pages, runs[0].ads, med("crawl"), med("wall"), med("cpu"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", choices=("bulk", "discuz"), default="bulk")
    parser.add_argument("--pages", type=int, default=1500,
                        help="pages of the bulk site, threads of the discuz site")
    parser.add_argument("--per-list", type=int, default=None,
                        help="ads per list page (bulk: 49, 30 list pages for 1,500 pages; "
                             "discuz: 30, 50 list pages for 1,500 threads)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-redis", action="store_true", help="skip the distributed runs")
    parser.add_argument("--redis", default=os.environ.get("TUTORWATCH_TEST_REDIS",
                                                          "redis://127.0.0.1:6379/15"))
    parser.add_argument("--db", default=None, help="a PostgreSQL URL for the stores")
    parser.add_argument("--pipeline", choices=("process", "thread"), default="process",
                        help="where the full pipeline scores and stores (default: process)")
    args = parser.parse_args()
    per_list = args.per_list or (30 if args.site == "discuz" else 49)

    server, url = serve(args.site, args.pages, per_list)
    runs: dict[str, list[Run]] = {"scrapy": [], "plain": [], "full": []}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            source = workdir / f"{args.site}.yaml"
            if args.site == "discuz":
                source.write_text(discuz.source_yaml("bench_discuz", url), encoding="utf-8")
            else:
                source.write_text(bulk.source_yaml("bench_bulk", url, extra="max_pages: 1000\n"),
                                  encoding="utf-8")
            outside = workdir / "outside"
            outside.mkdir()
            spider = outside / "plain_spider.py"
            shape = SITES[args.site]
            spider.write_text(SCRAPY_SPIDER.format(**{**shape, "start": url + shape["start"]}),
                              encoding="utf-8")
            stores = Store(workdir, args.db)
            try:
                for i in range(args.repeat):  # alternated, so that drifting load hits each alike
                    runs["scrapy"].append(plain_scrapy(spider, outside))
                    for mode in ("plain", "full"):
                        env = env_for(workdir, stores.new(f"{mode}{i}"), pipeline=args.pipeline)
                        runs[mode].append(tutorwatch(source, env, plain=mode == "plain"))
                    stores.drop_all()
                if not args.no_redis:
                    for workers in (1, 2):
                        redis = {"TUTORWATCH_REDIS_URL": args.redis,
                                 "TUTORWATCH_REDIS_PREFIX": f"twbench-{uuid.uuid4().hex[:8]}"}
                        env = env_for(workdir, stores.new(f"redis{workers}"), redis,
                                      args.pipeline)
                        runs[f"redis x{workers}"] = [tutorwatch(source, env, workers=workers)]
            finally:
                stores.drop_all()
    finally:
        server.terminate()
        server.wait()

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}; store: {'PostgreSQL' if args.db else 'SQLite'}")
    print(f"site: {args.site}, {args.pages} {'threads' if args.site == 'discuz' else 'pages'}, "
          f"{per_list} a list page; scoring and storing on a {args.pipeline}; "
          f"medians of {args.repeat}")
    print(f"{'':10} {'pages':>5} {'ads':>5} {'crawl s':>8} {'whole s':>8} {'cpu s':>7}  "
          f"whole-process runs (s)")
    med = {}
    for mode, done in runs.items():
        if not done:
            continue
        m = med[mode] = median_run(done)
        walls = ", ".join(f"{r.wall:.1f}" for r in done)
        print(f"{mode:10} {m.pages:5} {m.ads:5} {m.crawl:8.2f} {m.wall:8.2f} {m.cpu:7.2f}  "
              f"{walls}")

    def ratio(a: str, b: str, what: str) -> float:
        # throughput ratio a / b on the same pages: b's seconds over a's
        return getattr(med[b], what) / getattr(med[a], what) * med[a].pages / med[b].pages

    print(f"throughput full / plain Scrapy, whole process (target >= 0.8): "
          f"{ratio('full', 'scrapy', 'wall'):.2f}")
    print(f"throughput full / plain Scrapy, CPU seconds: {ratio('full', 'scrapy', 'cpu'):.2f}")
    print(f"throughput full / tutorwatch without pipelines, crawl only: "
          f"{ratio('full', 'plain', 'crawl'):.2f}")
    if "redis x2" in med:
        print(f"distributed scaling, 2 workers / 1 worker: "
              f"{ratio('redis x2', 'redis x1', 'crawl'):.2f}")


if __name__ == "__main__":
    started = time.monotonic()
    main()
    print(f"benchmark took {time.monotonic() - started:.0f} s")
