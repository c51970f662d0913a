"""Whether a crawl process still runs: the one liveness check of the run records
(``review_ui.runs``) and of the workers of shared crawls (:mod:`crawler.distributed`).

Only a process of this host can be checked; a zombie (exited, not yet reaped) counts as gone.
"""

from __future__ import annotations

import os
import socket

HOST = socket.gethostname()


def pid_alive(pid: int | None) -> bool:
    """Whether a process of this host with this id runs (a zombie does not count)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


def gone_here(worker: str) -> bool:
    """Whether ``worker`` ("host:pid") is a process of this host that no longer exists."""
    host, _, pid = worker.rpartition(":")
    return host == HOST and pid.isdigit() and not pid_alive(int(pid))
