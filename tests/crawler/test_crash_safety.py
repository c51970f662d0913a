"""A crawl killed with SIGKILL half-way and started again ends with the same store as a crawl
that was never interrupted: nothing lost, nothing duplicated. A real subprocess, a real kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from crawler.extensions.jobdir import MARKER
from tests.conftest import ROOT, database_for_subprocess, subprocess_env
from tests.crawler import store_view
from tests.crawler.hostile_site import STEADY_POSTS, HostileSite

pytestmark = pytest.mark.slow
KILL_AFTER = 8  # ads stored before the kill


@pytest.fixture
def site():
    site = HostileSite().start()
    yield site
    site.stop()


def _cli(env: dict, *args: str) -> list[str]:
    return [sys.executable, "-m", "review_ui.cli", *args]


def _crawl(env: dict, source, *extra: str) -> subprocess.CompletedProcess:
    done = subprocess.run(_cli(env, "crawl", "--source", str(source), *extra), env=env, cwd=ROOT,
                          capture_output=True, timeout=180)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    return done


def test_a_crawl_killed_half_way_and_restarted_stores_what_an_uninterrupted_crawl_does(
    site, tmp_path
):
    source = tmp_path / "steady.yaml"
    source.write_text(site.source("steady", ["/steady/list/1"]), encoding="utf-8")

    (tmp_path / "a").mkdir()
    with database_for_subprocess(tmp_path / "a") as ref_db:
        env = subprocess_env(ref_db, tmp_path / "data")
        subprocess.run(_cli(env, "migrate", "-v", "0"), env=env, cwd=ROOT, check=True, timeout=120)
        _crawl(env, source)
        uninterrupted = store_view.store_state(ref_db)
    assert len(uninterrupted["ads"]) == STEADY_POSTS
    assert uninterrupted["groups"], "the steady site has reposts"

    (tmp_path / "b").mkdir()
    with database_for_subprocess(tmp_path / "b") as db:
        env = subprocess_env(db, tmp_path / "data")
        subprocess.run(_cli(env, "migrate", "-v", "0"), env=env, cwd=ROOT, check=True, timeout=120)
        jobdir = tmp_path / "job"
        crawl = subprocess.Popen(
            _cli(env, "crawl", "--source", str(source), "-s", f"JOBDIR={jobdir}"),
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 120
            while store_view.count_ads(db) < KILL_AFTER:
                assert crawl.poll() is None, "the crawl ended before it could be killed"
                assert time.monotonic() < deadline, "the crawl stored nothing in time"
                time.sleep(0.05)
            os.kill(crawl.pid, signal.SIGKILL)
        finally:
            crawl.wait(timeout=30)
        assert crawl.returncode == -signal.SIGKILL
        stored_at_kill = store_view.count_ads(db)
        assert KILL_AFTER <= stored_at_kill < STEADY_POSTS
        assert (jobdir / MARKER).exists()  # the killed crawl never closed
        assert (jobdir / "requests.seen").stat().st_size > 0

        done = _crawl(env, source, "-s", f"JOBDIR={jobdir}")
        assert b"steady: finished" in done.stdout
        assert not (jobdir / MARKER).exists()
        restarted = store_view.store_state(db)
        _, stats = store_view.last_run_stats(db)
        assert stats["tutorwatch/jobdir/recovered_after_kill"] == 1

    assert restarted == uninterrupted
