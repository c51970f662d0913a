"""The store's database connections: checking them, closing them, and keeping a forked process
off its parent's.

A crawl scores and stores in a child process forked from the crawl process
(``crawler.pipelines.worker``). SQLite must not see a connection cross a fork (the child would
inherit its file locks' bookkeeping), and a PostgreSQL session cannot be shared: the parent
closes its idle connections before forking (:func:`close_idle`), and the child drops, without
closing, any it inherited (:func:`forget_inherited`) and opens its own.

PostgreSQL may abort a transaction to let another go on (a deadlock, a serialization
failure): :func:`is_retryable` tells those apart, and the store tries them again.
"""

from __future__ import annotations

import logging
from multiprocessing.util import Finalize
from typing import Any

from django.db import DatabaseError, OperationalError, connection, connections

from review_ui.store import StoreNotReady

logger = logging.getLogger(__name__)

# PostgreSQL's codes for a transaction it chose to abort so that another could go on: a deadlock
# (two crawls grouping the same near-duplicates, say) or a serialization failure.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})


def is_retryable(exc: BaseException) -> bool:
    """True for a deadlock or serialization failure, which a second try of the same
    transaction resolves."""
    state = getattr(exc.__cause__, "sqlstate", None) or getattr(exc, "sqlstate", None)
    return state in RETRYABLE_SQLSTATES


def describe() -> str:
    """The database, as an error message names it."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"SQLite database {settings.get('NAME')}"
    host = settings.get("HOST") or "localhost"
    port = f":{settings['PORT']}" if settings.get("PORT") else ""
    return f"{connection.display_name} database {settings.get('NAME')!r} at {host}{port}"


def check() -> None:
    """Raise :class:`StoreNotReady` when the store cannot take ads: a server that cannot be
    reached is told apart from a database that is not migrated."""
    from review_ui.models import Ad, AdVersion

    try:
        connection.ensure_connection()
    except OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StoreNotReady(f"cannot reach the {describe()}: {reason}") from exc
    try:
        Ad.objects.exists()
        AdVersion.objects.exists()
    except DatabaseError as exc:
        raise StoreNotReady(
            f"the {describe()} is not ready ({exc}); run `tutorwatch migrate` first"
        ) from exc


def close() -> None:
    """Close this thread's default connection."""
    connection.close()


def close_idle() -> None:
    """Close this thread's idle connections, before a fork. One inside a transaction stays
    open; the child drops it (:func:`forget_inherited`)."""
    for each in connections.all(initialized_only=True):
        if each.connection is not None and not each.in_atomic_block:
            try:
                each.close()
            except Exception as exc:  # e.g. called inside a running event loop
                logger.debug("not closed before the fork: %s", exc)


_inherited: list[Any] = []  # the parent's database connections, kept alive here, never used


def forget_inherited() -> None:
    """In a forked child: make Django open new connections here. An inherited one shares its
    socket with the parent: closing it would end the parent's own session, so it is dropped
    from Django but kept referenced, never closed. This process's own sessions are ended
    properly when it exits."""
    for each in connections.all(initialized_only=True):
        if each.connection is not None:
            _inherited.append(each.connection)
            each.connection = None
    Finalize(None, connections.close_all, exitpriority=10)
