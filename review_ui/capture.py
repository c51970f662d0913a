"""The capture worker: fills in the pending screenshots of flagged ads, outside any crawl.

The store writes a pending :class:`~review_ui.models.Screenshot` when it flags an ad, and when a
re-check finds a flagged ad still up (``review_ui.store.screenshots``). This worker takes them
oldest first and captures each page with headless Chromium (:mod:`crawler.screenshots`: the
ad's own site only, no inside address outside ``TUTORWATCH_ALLOW_NETWORKS``):

- a capture that works is stored as ``ok`` with the PNG, its SHA-256, size, the URL the page
  ended on and the time, and audited (``ad.captured``, with the hash);
- one that fails is stored as ``failed`` with its reason, and is tried once more after the
  pending ones (``MAX_ATTEMPTS``); failing again, it is left failed (audited as
  ``ad.capture_failed``);
- captures start at most ``rate`` a minute (``TUTORWATCH_CAPTURE_RATE``), each bounded by
  ``TUTORWATCH_CAPTURE_TIMEOUT`` seconds.

One worker captures at a time per store: it holds the capture lock (:class:`CaptureLock`, a
PostgreSQL advisory lock or a lock file beside the SQLite file, both freed when the process
ends however it ends). A row marked as being captured (pending with an attempt counted) when the
lock is taken was left by a worker that died mid-capture: that attempt counts as failed.

A crawl starts a worker when it first flags an ad (``crawler.extensions.capture``) and tells it
when the crawl is over by closing its standard input; the worker then catches up on what is
pending and exits. ``tutorwatch capture`` does the same on demand, and first asks for a capture
of each flagged ad that never had one (trigger ``catch_up``).
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import logging
import os
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import connection, connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from review_ui.models import Ad, AuditEvent, Screenshot

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 2          # a failed capture is tried once more, then left failed
POLL_SECONDS = 1.0        # how often an idle worker looks for new requests
LOCK_KEY = zlib.crc32(b"tutorwatch.capture")  # the PostgreSQL advisory lock's key
INTERRUPTED = "interrupted: the capture worker stopped during the capture"


# --- The queue of captures -----------------------------------------------------------------------

def request_catch_up(limit: int | None = None) -> int:
    """A pending capture (trigger ``catch_up``) for each flagged ad that never had one,
    taken-down ones included (their page may be gone: the capture then records why); how many."""
    never = (Ad.objects.filter(verdict__label=True, screenshots__isnull=True)
             .filter(Q(url__startswith="http://") | Q(url__startswith="https://"))
             .order_by("pk").only("pk", "url"))
    if limit is not None:
        never = never[:limit]
    rows = [Screenshot(ad=ad, trigger=Screenshot.Trigger.CATCH_UP, url=ad.url) for ad in never]
    Screenshot.objects.bulk_create(rows)
    return len(rows)


def due() -> Any:
    """Rows a worker may take: pending and not yet tried, then failed ones with a try left."""
    return Screenshot.objects.filter(
        Q(status=Screenshot.Status.PENDING, attempts=0)
        | Q(status=Screenshot.Status.FAILED, attempts__lt=MAX_ATTEMPTS))


def next_due() -> Screenshot | None:
    first = (due().filter(status=Screenshot.Status.PENDING).order_by("requested_at", "pk")
             .select_related("ad").first())
    return first or due().order_by("requested_at", "pk").select_related("ad").first()


def claim(row: Screenshot) -> bool:
    """Count an attempt on ``row`` and mark it as being captured (pending), unless another
    worker took it first."""
    taken = Screenshot.objects.filter(pk=row.pk, status=row.status, attempts=row.attempts).update(
        status=Screenshot.Status.PENDING, attempts=F("attempts") + 1)
    if taken:
        row.status, row.attempts = Screenshot.Status.PENDING, row.attempts + 1
    return bool(taken)


def record_capture(row: Screenshot, png: bytes, width: int, height: int, url: str) -> None:
    """Store a capture that worked, and audit its hash."""
    now = timezone.now()
    digest = hashlib.sha256(png).hexdigest()
    with transaction.atomic():
        Screenshot.objects.filter(pk=row.pk).update(
            status=Screenshot.Status.OK, image=png, sha256=digest, width=width, height=height,
            url=url[:2000], captured_at=now, reason="")
        AuditEvent.record(None, "ad.captured", ad_id=row.ad_id, detail={
            "screenshot": row.pk, "sha256": digest, "trigger": row.trigger,
            "captured_at": now.isoformat(), "url": url[:2000]})
    row.status, row.sha256, row.captured_at = Screenshot.Status.OK, digest, now


def record_failure(row: Screenshot, reason: str) -> None:
    """Store why a capture failed; the last try's failure is audited."""
    with transaction.atomic():
        Screenshot.objects.filter(pk=row.pk).update(
            status=Screenshot.Status.FAILED, reason=reason[:1000])
        if row.attempts >= MAX_ATTEMPTS:
            AuditEvent.record(None, "ad.capture_failed", ad_id=row.ad_id, detail={
                "screenshot": row.pk, "reason": reason[:1000], "attempts": row.attempts})
    row.status, row.reason = Screenshot.Status.FAILED, reason


def fail_interrupted() -> int:
    """Rows left mid-capture by a worker that died: that attempt failed. Call with the lock."""
    left = list(Screenshot.objects.filter(status=Screenshot.Status.PENDING, attempts__gt=0))
    for row in left:
        record_failure(row, INTERRUPTED)
    return len(left)


def counts() -> dict[str, int]:
    """Screenshots by status, and the failed ones with a try left."""
    found = {status: 0 for status in Screenshot.Status.values}
    for status, n in _grouped():
        found[status] = n
    found["retry"] = Screenshot.objects.filter(status=Screenshot.Status.FAILED,
                                               attempts__lt=MAX_ATTEMPTS).count()
    return found


def _grouped() -> list[tuple[str, int]]:
    from django.db.models import Count

    return list(Screenshot.objects.values_list("status").annotate(n=Count("pk")).order_by())


# --- One worker at a time ------------------------------------------------------------------------

class CaptureLock:
    """The store's capture lock, held by one process at a time and freed when it ends: a
    session advisory lock on its own PostgreSQL connection, or ``flock`` on a file beside the
    SQLite file."""

    def __init__(self) -> None:
        self._conn: Any = None
        self._file: Any = None

    def acquire(self) -> bool:
        if connection.vendor == "postgresql":
            if self._conn is None:
                self._conn = connections.create_connection("default")
            with self._conn.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])
                return bool(cursor.fetchone()[0])
        if self._file is None:
            self._file = open(self._lock_path(), "a+b")  # noqa: SIM115 (held while locked)
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def release(self) -> None:
        if self._conn is not None:
            # Unlocked before closing: the server ends a closed session (and frees its locks)
            # a moment after the client has gone on.
            try:
                if self._conn.connection is not None:
                    with self._conn.cursor() as cursor:
                        cursor.execute("SELECT pg_advisory_unlock_all()")
            finally:
                self._conn.close()
                self._conn = None
        if self._file is not None:
            self._file.close()
            self._file = None

    @staticmethod
    def _lock_path() -> Path:
        name = str(connection.settings_dict["NAME"])
        if name in ("", ":memory:") or name.startswith("file:"):
            from django.conf import settings

            return Path(settings.DATA_DIR) / "capture.lock"
        return Path(f"{name}.capture.lock")


# --- The worker ----------------------------------------------------------------------------------

@dataclass
class WorkerOptions:
    rate: float = 20.0                    # captures started per minute at most
    timeout: float = 30.0                 # seconds per capture
    limit: int | None = None              # captures to attempt, then stop (None: all)
    chromium: str = ""
    args: list[str] = field(default_factory=list)
    networks: tuple[Any, ...] = ()
    crawl_over: Callable[[], bool] = lambda: True  # False while the crawl that started us runs
    wait: bool = True                     # wait while another worker holds the lock


@dataclass
class Tally:
    captured: int = 0
    failed: int = 0
    interrupted: int = 0
    waited: bool = False                  # another worker held the lock at some point

    def line(self) -> str:
        left = counts()
        return (f"captured {self.captured}, failed {self.failed} "
                f"(of which to retry {left['retry']}), pending {left['pending']}, "
                f"failed for good {left['failed'] - left['retry']}")


def options_from_settings(**overrides: Any) -> WorkerOptions:
    """Options from ``crawler.settings`` (the environment), with ``overrides``."""
    from crawler import settings as crawl
    from crawler.network import parse_networks

    values: dict[str, Any] = {
        "rate": crawl.TUTORWATCH_CAPTURE_RATE, "timeout": crawl.TUTORWATCH_CAPTURE_TIMEOUT,
        "chromium": crawl.TUTORWATCH_CHROMIUM,
        "args": crawl.chromium_args(os.geteuid() if hasattr(os, "geteuid") else -1),
        "networks": parse_networks(crawl.TUTORWATCH_ALLOW_NETWORKS),
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    return WorkerOptions(**values)


def run(options: WorkerOptions) -> Tally:
    """Capture what is due, at most ``options.rate`` a minute, until nothing is due and the
    crawl (if any) is over, or ``options.limit`` captures were attempted."""
    from concurrent.futures import ThreadPoolExecutor

    # Django refuses queries on an event loop's thread: the ORM calls run on this one thread,
    # which keeps one database connection, closed at the end.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tutorwatch-capture-db") as db:
        async def on_db(func: Callable[..., Any], *args: Any) -> Any:
            return await asyncio.get_running_loop().run_in_executor(db, func, *args)

        try:
            return asyncio.run(_run(options, on_db))
        finally:
            db.submit(lambda: connection.close()).result()


async def _run(options: WorkerOptions, on_db: Callable[..., Any]) -> Tally:
    from crawler.screenshots import Capturer

    tally = Tally()
    lock = CaptureLock()
    try:
        while not await on_db(lock.acquire):
            tally.waited = True
            if not options.wait:
                return tally
            # Another worker captures for the store; it takes our rows too. Wait while our crawl
            # runs or anything is left for whoever holds the lock.
            if options.crawl_over() and not await on_db(lambda: due().exists()):
                return tally
            await asyncio.sleep(POLL_SECONDS)
        tally.interrupted = await on_db(fail_interrupted)
        async with Capturer(options.chromium, options.args, options.networks,
                            timeout=options.timeout) as capturer:
            await _capture_all(capturer, options, tally, on_db)
    finally:
        await on_db(lock.release)
    return tally


async def _capture_all(capturer: Any, options: WorkerOptions, tally: Tally,
                       on_db: Callable[..., Any]) -> None:
    interval = 60.0 / options.rate if options.rate > 0 else 0.0
    started_last = -interval
    attempted = 0
    while options.limit is None or attempted < options.limit:
        row = await on_db(_take_next)
        if row is None:
            if options.crawl_over():
                # Nothing due, and the crawl has ended: one more look (a last batch may have
                # been stored as it ended), then stop.
                row = await on_db(_take_next)
                if row is None:
                    return
            else:
                await asyncio.sleep(POLL_SECONDS)
                continue
        wait = started_last + interval - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        started_last = time.monotonic()
        attempted += 1
        await _capture_one(capturer, row, tally, on_db)


def _take_next() -> Screenshot | None:
    for _ in range(5):  # another worker may take a row between the query and the claim
        row = next_due()
        if row is None:
            return None
        if claim(row):
            return row
    return None


async def _capture_one(capturer: Any, row: Screenshot, tally: Tally,
                       on_db: Callable[..., Any]) -> None:
    from crawler.screenshots import CaptureFailed

    url = row.ad.url
    try:
        shot = await capturer.capture(url)
    except CaptureFailed as exc:
        tally.failed += 1
        logger.warning("capture of ad %s (%s) failed: %s", row.ad_id, url, exc)
        await on_db(record_failure, row, f"{exc.reason}: {exc.message}")
        return
    tally.captured += 1
    await on_db(record_capture, row, shot.png, shot.width, shot.height, shot.url)
    # The copy the evidence sheet prints, made now (beside the next capture, off the ORM's
    # thread) rather than when an officer waits for a sheet.
    from review_ui.evidence import keep_printed_copy

    await asyncio.get_running_loop().run_in_executor(None, keep_printed_copy, shot.png)


def stdin_watch() -> Callable[[], bool]:
    """``crawl_over`` for a worker started by a crawl: true once the crawl closed our standard
    input (it ended, or its process died)."""
    over = threading.Event()

    def watch() -> None:
        try:
            while os.read(0, 1024):
                pass
        except OSError:
            pass
        over.set()

    threading.Thread(target=watch, name="crawl-watch", daemon=True).start()
    return over.is_set
