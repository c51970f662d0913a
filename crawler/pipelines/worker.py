"""Where the classify and store stages do their work: one child process of the crawl, or one
thread of it. Each crawl has one, owned by the extension
:class:`crawler.extensions.pipeline_worker.PipelineWorkerExtension`.

A crawl runs on one core: Scrapy's reactor and every thread of the crawl process share one
interpreter lock, so scoring and storing ads on a thread takes time from fetching and parsing
pages. By default (``TUTORWATCH_PIPELINE_PROCESS``) that work runs in a child process of each
crawl instead, forked when the crawl's store stage is built: the store is set up and the model
loaded by then, and Scrapy builds every crawl's pipelines before its reactor starts, so no
other thread exists; the crawl process's idle database connections are closed first
(``before_fork``, the store's). The child starts in a few milliseconds, finds the model already
loaded (its arrays shared with the crawl process, not copied), and scores and stores on a
second core while the reactor goes on. The extension shuts it down when its crawl closes. Its
calls run one at a time, in the order they came, as on a thread: the ads' batches, the
takedowns the store stage records and the run's heartbeats.

Where ``fork`` is not available, or with the setting off, one thread per crawl does the work.

The child:

- opens its own database connections (``in_child``, the store's): one the crawl process could
  not close before the fork (inside a transaction) is dropped, not closed, since it is the
  crawl's session;
- ignores SIGINT, so that Ctrl-C stops the crawl, which then stores the ads the child holds
  and shuts it down (SIGTERM, which the scheduler sends to the crawl process alone, still ends
  it: a pool that breaks stops its child that way);
- exits within half a second when the crawl process is gone (killed with SIGKILL, say): a
  batch it was writing is rolled back, and the rerun fetches those pages again.

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
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

logger = logging.getLogger(__name__)

__all__ = ["BrokenProcessPool", "PipelineWorker", "fork_available"]


def fork_available() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


class PipelineWorker:
    """Runs functions one at a time, in order, on a child process (``process=True`` where fork
    is available) or on a thread. In a process, a function and its arguments travel by pickle:
    give it a module-level function or a method of an object that pickles, not a lambda."""

    def __init__(self, process: bool = True) -> None:
        self.process = process and fork_available()
        self._executor: Executor | None = None
        self.pid: int | None = None  # the child's, once started
        self.lost = False  # the child was found gone: the stages stop the crawl, once

    def _started(self, in_child: Callable[[], None] | None = None) -> Executor:
        if self._executor is None:
            if self.process:
                self._executor = ProcessPoolExecutor(
                    max_workers=1, mp_context=multiprocessing.get_context("fork"),
                    initializer=_child_started, initargs=(os.getpid(), in_child),
                )
            else:
                self._executor = ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="tutorwatch-pipeline")
        return self._executor

    def start(self, before_fork: Callable[[], None] | None = None,
              in_child: Callable[[], None] | None = None) -> None:
        """Start the child now, if not yet (a thread starts on first use). The child is a copy
        of the process as it is at this moment: call it with the model loaded, from the only
        thread that has used the database. ``before_fork`` runs here just before the fork,
        ``in_child`` first thing in the child (the store's: they close and forget database
        connections)."""
        if self.process and self.pid is None:
            if before_fork is not None:
                before_fork()
            self.pid = self._started(in_child).submit(os.getpid).result(timeout=60)
            logger.info("scoring and storing in process %s", self.pid)

    async def call(self, func: Any, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._started(), func, *args)

    def submit(self, func: Any, *args: Any) -> Future:
        """Hand in a call without waiting for it (from outside the event loop too, as when the
        stages are built): the calls handed in after it run after it. Its result, in a
        ``concurrent.futures.Future``, is for the caller to collect."""
        return self._started().submit(func, *args)

    def shutdown(self) -> None:
        """Wait for the work handed in so far, then stop the process or thread."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor, self.pid = None, None


def _child_started(parent: int, in_child: Callable[[], None] | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        signal.set_wakeup_fd(-1)  # the crawl's event loop's, inherited
    except ValueError:
        pass
    if in_child is not None:
        in_child()
    # Everything inherited lives as long as this process: not scanning it at each collection
    # saves time, and keeps this process's collections from writing to the memory it still
    # shares with the crawl process.
    gc.freeze()
    threading.Thread(target=_leave_with, args=(parent,), name="parent-watch", daemon=True).start()


def _leave_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)
