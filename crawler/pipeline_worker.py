"""Where the classify and store stages do their work: one child process of the crawl, or one
thread of it.

A crawl runs on one core: Scrapy's reactor and every thread of the crawl process share one
interpreter lock, so scoring and storing ads on a thread takes time from fetching and parsing
pages. By default (``TUTORWATCH_PIPELINE_PROCESS``) that work runs in one child process
instead (:func:`process_worker`, one per crawl process, shared by its crawls), forked when the
first store pipeline is built: the model is loaded and Django set up by then, and no thread
has a database transaction open yet. The child starts in a few milliseconds, shares the
model's memory with the crawl instead of loading it again, and scores and stores on a second
core while the reactor goes on. Batches still run one at a time, in the order they came, so
writes keep their order as on a thread.

Where ``fork`` is not available, or with the setting off, one thread per crawl does the work.

The child:

- forgets the database connections it inherited (they belong to the crawl process: using or
  closing them would break the crawl's own session) and opens its own;
- ignores SIGINT and SIGTERM, so that a crawl asked to stop (Ctrl-C, the scheduler, systemd)
  finishes the batches it has, and leaves when the crawl shuts it down;
- leaves at once when the crawl process is gone (killed with SIGKILL, say): a batch it was
  writing is rolled back, and the rerun fetches those pages again.

When the child dies, every call fails with ``BrokenProcessPool``; the pipelines stop the crawl
(reason ``store_unavailable``) rather than crawl into nothing.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

logger = logging.getLogger(__name__)

__all__ = ["BrokenProcessPool", "PipelineWorker", "fork_available", "process_worker"]


def fork_available() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


class PipelineWorker:
    """Runs functions one at a time, in order, on a child process (``process=True`` where fork
    is available) or on a thread. In a process, a function and its arguments travel by pickle:
    give it a module-level function, not a lambda or a bound method."""

    def __init__(self, process: bool = True) -> None:
        self.process = process and fork_available()
        self._executor: Executor | None = None
        self.pid: int | None = None  # the child's, once started
        self._users = 0

    def _started(self) -> Executor:
        if self._executor is None:
            if self.process:
                self._executor = ProcessPoolExecutor(
                    max_workers=1, mp_context=multiprocessing.get_context("fork"),
                    initializer=_child_started, initargs=(os.getpid(),),
                )
            else:
                self._executor = ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="tutorwatch-pipeline")
        return self._executor

    def start(self) -> None:
        """Start the child now, if not yet (a thread starts on first use). The child is a copy
        of the process as it is at this moment: call it with the model loaded and no database
        transaction open on any thread."""
        if self.process and self.pid is None:
            self.pid = self._started().submit(os.getpid).result(timeout=60)
            logger.info("scoring and storing in process %s", self.pid)

    def acquire(self) -> None:
        """A crawl starts using the worker (which starts now); :meth:`release` when it ends."""
        self.start()
        self._users += 1

    def release(self) -> None:
        """A crawl is done with the worker: the last one shuts it down."""
        self._users -= 1
        if self._users <= 0:
            self.shutdown()

    async def call(self, func: Any, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._started(), func, *args)

    def shutdown(self) -> None:
        """Wait for the work handed in so far, then stop the process or thread."""
        global _process_worker
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor, self.pid = None, None
        if _process_worker is self:
            _process_worker = None


_process_worker: PipelineWorker | None = None


def process_worker() -> PipelineWorker:
    """This process's worker process (made on first use): the crawls one command runs share
    it, so that it is forked once, before any of them has used the database."""
    global _process_worker
    if _process_worker is None:
        _process_worker = PipelineWorker(process=True)
    return _process_worker


_inherited: list[Any] = []  # the crawl's database connections, kept alive here, never used


def _child_started(parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        signal.set_wakeup_fd(-1)  # the crawl's event loop's, inherited
    except ValueError:
        pass
    _forget_database_connections()
    # Everything inherited lives as long as this process: not scanning it at each collection
    # saves time, and keeps the pages it shares with the crawl process from being copied.
    gc.freeze()
    threading.Thread(target=_leave_with, args=(parent,), name="parent-watch", daemon=True).start()


def _forget_database_connections() -> None:
    """Make Django open new connections here. The inherited ones share their sockets (or
    SQLite files and locks) with the crawl process: closing one would end the crawl's own
    session, so they are dropped from Django but kept referenced, never closed."""
    if "django.db" not in sys.modules:
        return
    from django.conf import settings

    if not settings.configured:
        return
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        if connection.connection is not None:
            _inherited.append(connection.connection)
            connection.connection = None


def _leave_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)
