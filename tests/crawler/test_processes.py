"""The one process-liveness check (``crawler.processes``) that crawl runs and shared crawls use."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from crawler.processes import HOST, gone_here, pid_alive


def test_this_process_is_alive_and_not_gone():
    assert pid_alive(os.getpid())
    assert not gone_here(f"{HOST}:{os.getpid()}")


def test_a_process_that_exited_is_gone():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    assert not pid_alive(process.pid)
    assert gone_here(f"{HOST}:{process.pid}")


def test_a_zombie_counts_as_gone():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 30
        while pid_alive(process.pid) and time.monotonic() < deadline:
            time.sleep(0.05)  # exited, not reaped yet: a zombie
        assert not pid_alive(process.pid)
        assert gone_here(f"{HOST}:{process.pid}")
    finally:
        process.wait()


def test_a_worker_of_another_host_or_without_a_pid_is_never_gone_here():
    assert not gone_here(f"another-{HOST}:1")
    assert not gone_here(f"{HOST}:not-a-pid")
    assert not pid_alive(None) and not pid_alive(0)
