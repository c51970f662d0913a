"""Two workers of one shared crawl hold a site's ``CONCURRENT_REQUESTS_PER_DOMAIN`` and
``DOWNLOAD_DELAY`` together, through leases in Redis (``crawler/leases.py``), and a worker killed
outright leaves no slot taken for longer than ``TUTORWATCH_REDIS_LEASE_TTL``.

Real ``tutorwatch crawl`` subprocesses crawl the busy site of ``test_domain_limit.py``, which
records its most simultaneous requests and when each came. Its list page waits until the second
worker has joined, so that both workers are there when the ads are found.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import ROOT, database_for_subprocess, subprocess_env
from tests.crawler.test_domain_limit import SOURCE, BusySite

pytestmark = [pytest.mark.slow, pytest.mark.pg]

LEASE_TTL = 2.0


def wait_for(condition, timeout: float, what: str) -> float:
    """Seconds it took until ``condition()`` held; fails after ``timeout``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@dataclass
class Worker:
    process: subprocess.Popen
    out: str = field(default="")

    @property
    def lease_mark(self) -> str:
        """How this worker's lease ids begin (crawler.distributed.worker_id)."""
        return f"{socket.gethostname()}:{self.process.pid}#"

    def finish(self, timeout: float = 180) -> str:
        out, err = self.process.communicate(timeout=timeout)
        self.out = out.decode(errors="replace")
        assert self.process.returncode == 0, self.out + err.decode(errors="replace")[-3000:]
        return self.out

    @property
    def pages(self) -> int:
        return int(re.search(r"busy: \w+; pages (\d+)", self.out).group(1))


class SharedBusyCrawl:
    """A shared crawl of a busy site by two ``tutorwatch crawl`` processes, the second joining."""

    def __init__(self, site: BusySite, tmp: Path, db: str, redis_url: str) -> None:
        import redis

        self.site = site
        self.prefix = f"twtest-{uuid.uuid4().hex[:8]}"
        self.redis = redis.Redis.from_url(redis_url)
        self.source = tmp / "busy.yaml"
        self.source.write_text(SOURCE.format(base=site.url), encoding="utf-8")
        self.env = {**subprocess_env(db, tmp / "data"), "TUTORWATCH_REDIS_URL": redis_url,
                    "TUTORWATCH_REDIS_PREFIX": self.prefix}
        self.cli = [sys.executable, "-m", "review_ui.cli"]
        subprocess.run([*self.cli, "migrate", "-v", "0"], env=self.env, cwd=ROOT, check=True,
                       timeout=120)
        self.workers: list[Worker] = []

    def leases(self) -> list[str]:
        return [m.decode() for m in self.redis.zrange(f"{self.prefix}:busy:slot:127.0.0.1", 0, -1)]

    def start(self, *settings: str) -> tuple[Worker, Worker]:
        """Start the crawl and a second worker; the site's ads are found once both are in."""
        overrides = ["-s", "TUTORWATCH_INCREMENTAL=0", "-s", "DOWNLOAD_TIMEOUT=60",
                     "-s", f"TUTORWATCH_REDIS_LEASE_TTL={LEASE_TTL}"]
        for setting in settings:
            overrides += ["-s", setting]
        self.site.gate.clear()
        self.site.reset()

        def popen(*args: str) -> Worker:
            worker = Worker(subprocess.Popen([*self.cli, "crawl", *args, *overrides],
                                             env=self.env, cwd=ROOT, stdout=subprocess.PIPE,
                                             stderr=subprocess.PIPE))
            self.workers.append(worker)
            return worker

        first = popen("--source", str(self.source))
        wait_for(lambda: self.redis.sismember(f"{self.prefix}:active", "busy"), 120,
                 "the crawl to be announced")
        second = popen("--join", "busy")
        wait_for(lambda: self.redis.hlen(f"{self.prefix}:busy:workers") == 2, 120,
                 "the second worker to join")
        self.site.gate.set()
        return first, second

    def stop(self) -> None:
        self.site.gate.set()
        for worker in self.workers:
            if worker.process.poll() is None:
                worker.process.kill()
                worker.process.communicate()
        keys = list(self.redis.scan_iter(f"{self.prefix}:*"))
        if keys:
            self.redis.delete(*keys)
        self.redis.close()


@pytest.fixture
def shared_crawl(tmp_path: Path) -> Iterator[callable]:
    """``shared_crawl(ads=, seconds=)``: a busy site and a store, ready for a shared crawl."""
    url = os.environ.get("TUTORWATCH_TEST_REDIS")
    if not url:
        pytest.skip("TUTORWATCH_TEST_REDIS is not set (a Redis URL, e.g. redis://127.0.0.1:6379/15)")
    made: list[SharedBusyCrawl] = []
    with database_for_subprocess(tmp_path) as db:

        def make(ads: int, seconds: float) -> SharedBusyCrawl:
            crawl = SharedBusyCrawl(BusySite(ads, seconds), tmp_path, db, url)
            made.append(crawl)
            return crawl

        yield make
        for crawl in made:
            crawl.stop()
            crawl.site.stop()


def test_two_workers_together_send_a_site_no_more_than_its_limit(shared_crawl):
    crawl = shared_crawl(ads=60, seconds=0.2)
    first, second = crawl.start("CONCURRENT_REQUESTS_PER_DOMAIN=2")
    first.finish()
    second.finish()
    assert crawl.site.most == 2
    # Every page once: the list and the ads, plus each worker's robots.txt.
    assert first.pages + second.pages == 60 + 1 + 2
    assert first.pages > 5 and second.pages > 5, (first.pages, second.pages)
    assert crawl.leases() == [] and list(crawl.redis.scan_iter(f"{crawl.prefix}:*")) == []


def test_a_download_delay_spaces_the_requests_of_both_workers(shared_crawl):
    delay = 0.4
    crawl = shared_crawl(ads=16, seconds=0.05)
    first, second = crawl.start(f"DOWNLOAD_DELAY={delay}", "RANDOMIZE_DOWNLOAD_DELAY=False")
    first.finish()
    second.finish()
    starts = sorted(at for at, path in crawl.site.starts if path.startswith("/ad/"))
    gaps = [later - earlier for earlier, later in zip(starts, starts[1:], strict=False)]
    assert len(starts) == 16, (first.out, second.out)
    # Redis grants the leases at least the delay apart; a request reaches the site a moment
    # later, a moment that grows with the load of the worker that sends it (0.15 s seen on a
    # machine at a load of 12). Each worker spacing its own requests would take half as long.
    assert starts[-1] - starts[0] >= 15 * delay - 0.3, [round(gap, 3) for gap in gaps]
    assert min(gaps) >= delay / 2, [round(gap, 3) for gap in gaps]
    assert first.pages > 1 and second.pages > 1, (first.pages, second.pages)


def test_a_worker_killed_mid_crawl_leaves_no_slot_taken(shared_crawl):
    crawl = shared_crawl(ads=80, seconds=0.2)
    first, second = crawl.start("CONCURRENT_REQUESTS_PER_DOMAIN=2")
    wait_for(lambda: len(crawl.site.starts) >= 8
             and any(lease.startswith(first.lease_mark) for lease in crawl.leases()),
             60, "the first worker to crawl the ads")
    first.process.send_signal(signal.SIGKILL)
    first.process.communicate()
    # Its leases outlive it by the TTL at most (plus a heartbeat, and a margin for the load).
    freed = wait_for(lambda: not any(lease.startswith(first.lease_mark)
                                     for lease in crawl.leases()),
                     LEASE_TTL + 3, "the killed worker's leases to expire")
    assert freed <= LEASE_TTL + 1.5
    killed_at = len(crawl.site.starts)
    second.finish()
    assert crawl.site.most == 2
    assert second.pages > 10 and len(crawl.site.starts) > killed_at + 10
