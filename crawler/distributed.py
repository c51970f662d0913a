"""Distributed mode: crawl workers on any machines share one crawl through Redis (scrapy-redis).

With ``TUTORWATCH_REDIS_URL`` set, ``crawler.settings`` makes :class:`RedisScheduler` the
scheduler: the frontier (scrapy-redis' priority queue) and the duplicate filter of each source
live in Redis, so every page is fetched once whichever worker finds its link. Requests are kept
as JSON (:class:`JsonSerializer`), never pickle. Keys, for prefix ``P``
(``TUTORWATCH_REDIS_PREFIX``) and source ``S``:

- ``P:S:requests`` (sorted set) the frontier; ``P:S:dupefilter`` (set) request fingerprints;
- ``P:S:workers`` (hash) worker id (``host:pid``) → ``{"busy", "at"}``, refreshed every second;
  a worker is gone when its heartbeat is older than ``TUTORWATCH_REDIS_STALE`` or, on this
  host, its process no longer exists;
- ``P:S:run`` the id of the crawl run the workers share (``crawler.extensions.runs``);
- ``P:active`` (set) sources with a shared crawl under way, which ``tutorwatch worker`` joins;
- ``P:S:slot:K``, ``P:S:slot:K:waiting``, ``P:S:slotnext``, ``P:S:slots``: the leases by which
  ``CONCURRENT_REQUESTS_PER_DOMAIN`` and ``DOWNLOAD_DELAY`` of each download slot ``K`` hold for
  all workers together (:mod:`crawler.leases`); a lease expires ``TUTORWATCH_REDIS_LEASE_TTL``
  seconds after the heartbeat of its worker last refreshed it.

A crawl is under way while one of its workers has a fresh heartbeat. The first worker of a crawl
clears what a dead earlier crawl left. A worker leaves when the frontier is empty and no other
worker is busy (so none can add links any more); the last to leave deletes the crawl's keys.

If Redis is lost mid-crawl, the worker stops with reason ``redis_unavailable`` (a failed run);
the pages it had fetched are stored. A rerun starts again from the list pages, and incremental
crawling skips the ads already stored, so nothing is lost or stored twice.

Settings: ``REDIS_URL`` (from ``TUTORWATCH_REDIS_URL``), ``TUTORWATCH_REDIS_PREFIX``,
``TUTORWATCH_REDIS_IDLE_CLOSE`` (seconds the shared crawl must stay idle before a worker leaves),
``TUTORWATCH_REDIS_STALE`` (seconds without a heartbeat after which a worker counts as gone),
``TUTORWATCH_REDIS_MAX_BACKLOG`` (a worker takes no new request from the shared frontier while
this many downloaded pages wait for its spider and pipelines, so that a fast downloader does not
hoard the work that other workers could do), ``TUTORWATCH_REDIS_LEASE_TTL`` (seconds a dead
worker's slot leases outlive it).

Only crawls of a source are shared (:func:`crawler.spiders.base.crawls_a_source`): any other
spider (``scrapy runspider``, ``scrapy shell``) keeps Scrapy's own scheduler.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
from scrapy import Request, signals
from scrapy.core.scheduler import Scheduler as LocalScheduler
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider
from scrapy.utils.defer import deferred_from_coro
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler
from twisted.internet import task

from crawler.leases import SlotLeases
from crawler.processes import gone_here
from crawler.signals import shared_crawl_opened
from crawler.spiders.base import crawls_a_source

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 1.0
IDLE_POLL_SECONDS = 0.25


class RedisUnavailable(RuntimeError):
    """Redis cannot be reached; the message names the server (without its password)."""


def safe_url(url: str) -> str:
    """A Redis URL fit for messages: the password is replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.rsplit("@", 1)[1]
        user = parts.username or ""
        parts = parts._replace(netloc=f"{user}:***@{netloc}")
    return urlunsplit(parts)


def connect(url: str, timeout: float = 10.0) -> redis.Redis:
    """A client for ``url``, checked with a PING; :class:`RedisUnavailable` if it fails."""
    try:
        server = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=min(timeout, 5.0),
            health_check_interval=30,
        )
        server.ping()
    except (redis.RedisError, ValueError, OSError) as exc:
        raise RedisUnavailable(f"cannot reach Redis at {safe_url(url)}: {exc}") from None
    return server


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class JsonSerializer:
    """Requests as JSON in Redis: bytes and bytes-keyed dicts (headers) are tagged, nothing is
    ever unpickled from a server other machines can write to."""

    @staticmethod
    def _encode(value: Any) -> Any:
        if isinstance(value, bytes):
            return {"__b64__": base64.b64encode(value).decode("ascii")}
        if isinstance(value, dict):
            if all(isinstance(k, str) for k in value):
                return {k: JsonSerializer._encode(v) for k, v in value.items()}
            return {"__items__": [[JsonSerializer._encode(k), JsonSerializer._encode(v)]
                                  for k, v in value.items()]}
        if isinstance(value, (list, tuple)):
            return [JsonSerializer._encode(v) for v in value]
        if value is None or isinstance(value, (str, int, float, bool)):
            return value
        raise TypeError(f"cannot keep {type(value).__name__} in a Redis request queue: {value!r}")

    @staticmethod
    def _decode(value: dict[str, Any]) -> Any:
        if set(value) == {"__b64__"}:
            return base64.b64decode(value["__b64__"])
        if set(value) == {"__items__"}:
            return {_hashable(k): v for k, v in value["__items__"]}
        return value

    @staticmethod
    def dumps(obj: Any) -> bytes:
        return json.dumps(JsonSerializer._encode(obj), separators=(",", ":")).encode("utf-8")

    @staticmethod
    def loads(data: bytes | str) -> Any:
        return json.loads(data, object_hook=JsonSerializer._decode)


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


class SharedCrawl:
    """The Redis side of one source's shared crawl, for one worker."""

    def __init__(self, server: redis.Redis, prefix: str, source: str, worker: str,
                 stale: float = 15.0, lease_ttl: float = 5.0) -> None:
        self.server = server
        self.source = source
        self.worker = worker
        self.stale = stale
        base = f"{prefix}:{source}"
        self.leases = SlotLeases(server, base, worker, lease_ttl)
        self.queue_key = f"{base}:requests"
        self.dupefilter_key = f"{base}:dupefilter"
        self.workers_key = f"{base}:workers"
        self.run_key = f"{base}:run"
        self.lock_key = f"{base}:lock"
        self.active_key = f"{prefix}:active"
        self.was_last = True

    def lock(self) -> Any:
        return self.server.lock(self.lock_key, timeout=120, blocking_timeout=120)

    def _fresh_workers(self, now: float | None = None) -> dict[str, dict[str, Any]]:
        now = now or time.time()
        fresh = {}
        for key, raw in self.server.hgetall(self.workers_key).items():
            try:
                state = json.loads(raw)
            except ValueError:
                continue
            name = key.decode() if isinstance(key, bytes) else key
            if now - float(state.get("at", 0)) < self.stale and not gone_here(name):
                fresh[name] = state
        return fresh

    def under_way(self) -> bool:
        """Whether some worker is crawling this source now."""
        return bool(self._fresh_workers())

    def has_work(self) -> bool:
        """Whether a worker joining now could help: the crawl is under way, and its frontier
        holds requests or a worker is still busy (and may add links). A crawl whose workers are
        all idle with an empty frontier is only waiting for them to close together."""
        workers = self._fresh_workers()
        if not workers:
            return False
        return self.server.zcard(self.queue_key) > 0 or any(
            state.get("busy") for state in workers.values())

    def heartbeat(self, busy: bool) -> None:
        """Say this worker is alive (and whether busy), and keep the leases it holds."""
        with self.server.pipeline(transaction=False) as pipe:
            pipe.hset(self.workers_key, self.worker,
                      json.dumps({"busy": busy, "at": time.time()}))
            self.leases.refresh(pipe)
            pipe.execute()

    def enter(self) -> bool:
        """Register this worker; if no other worker is alive, clear what an earlier crawl left
        and announce the crawl. Returns True when this worker starts the crawl."""
        with self.lock():
            others = {k: v for k, v in self._fresh_workers().items() if k != self.worker}
            first = not others
            if first:
                self.reset()
                self.server.sadd(self.active_key, self.source)
            self.heartbeat(True)
        return first

    def others_busy(self) -> bool:
        return any(state.get("busy") for key, state in self._fresh_workers().items()
                   if key != self.worker)

    def claim_run(self, create: Callable[[], int], is_running: Callable[[int], bool],
                  join: Callable[[int], bool]) -> tuple[int, bool]:
        """The run this worker records into: the shared one if it is running, else a new one
        made by ``create``. Returns (run id, whether it was created)."""
        with self.lock():
            raw = self.server.get(self.run_key)
            if raw is not None and is_running(int(raw)) and join(int(raw)):
                return int(raw), False
            run_id = create()
            self.server.set(self.run_key, run_id)
            return run_id, True

    def leave(self) -> bool:
        """Deregister this worker; True if no other live worker remains (it was the last)."""
        with self.server.pipeline(transaction=True) as pipe:
            pipe.hdel(self.workers_key, self.worker)
            pipe.hgetall(self.workers_key)
            _, remaining = pipe.execute()
        now = time.time()
        for key, raw in remaining.items():
            name = key.decode() if isinstance(key, bytes) else key
            try:
                if now - float(json.loads(raw).get("at", 0)) < self.stale and not gone_here(name):
                    self.was_last = False
                    return False
            except ValueError:
                continue
        self.was_last = True
        return True

    def reset(self) -> None:
        """Delete the crawl's frontier, fingerprints, run, workers and slot leases; it is no
        longer active."""
        self.server.delete(self.queue_key, self.dupefilter_key, self.run_key, self.workers_key,
                           *self.leases.keys())
        self.server.srem(self.active_key, self.source)


def active_sources(server: redis.Redis, prefix: str) -> list[str]:
    """Sources with a shared crawl announced (``P:active``)."""
    return sorted(s.decode() if isinstance(s, bytes) else s
                  for s in server.smembers(f"{prefix}:active"))


class RedisScheduler(Scheduler):
    """scrapy-redis' scheduler, with JSON requests, per-source keys under our prefix, workers
    that wait for each other before closing, and a visible stop when Redis is lost."""

    def __init__(self, server: redis.Redis, crawler: Crawler, prefix: str,
                 idle_close: float = 2.0, stale: float = 15.0, max_backlog: int = 100,
                 lease_ttl: float = 5.0) -> None:
        super().__init__(server, persist=True, serializer=JsonSerializer)
        self.lease_ttl = lease_ttl
        self.crawler = crawler
        self.max_backlog = max_backlog
        self.stats = crawler.stats
        self.prefix = prefix
        self.idle_close = idle_close
        self.stale = stale
        self.shared: SharedCrawl | None = None
        self.lost = False
        self._idle_since: float | None = None
        self._heartbeat: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Any:
        if not crawls_a_source(crawler.spidercls):
            # Not a crawl of a source: no shared crawl that `tutorwatch worker` would try to
            # join, and no Redis needed.
            return LocalScheduler.from_crawler(crawler)
        settings = crawler.settings
        server = connect(settings.get("REDIS_URL"))
        return cls(
            server, crawler, prefix=settings.get("TUTORWATCH_REDIS_PREFIX") or "tutorwatch",
            idle_close=settings.getfloat("TUTORWATCH_REDIS_IDLE_CLOSE", 2.0),
            stale=settings.getfloat("TUTORWATCH_REDIS_STALE", 15.0),
            max_backlog=settings.getint("TUTORWATCH_REDIS_MAX_BACKLOG", 100),
            lease_ttl=settings.getfloat("TUTORWATCH_REDIS_LEASE_TTL", 5.0),
        )

    # --- lifecycle ---------------------------------------------------------------------------
    def open(self, spider: Any) -> None:
        self.spider = spider
        self.shared = SharedCrawl(self.server, self.prefix, spider.name, worker_id(), self.stale,
                                  self.lease_ttl)
        # The run recorder (crawler.extensions.runs) records into the shared crawl's run; the
        # downloader takes its slots' leases from it, and stops the crawl if Redis is lost.
        self.crawler.signals.send_catch_log(shared_crawl_opened, shared=self.shared,
                                            lose=self._lose)
        self.queue = PriorityQueue(self.server, spider, self.shared.queue_key, self.serializer)
        self.df = RFPDupeFilter(self.server, self.shared.dupefilter_key,
                                debug=self.crawler.settings.getbool("DUPEFILTER_DEBUG"))
        first = self.shared.enter()
        pending = len(self.queue)
        logger.info("%s the shared crawl of %s (%d requests in the frontier)",
                    "starting" if first else "joining", spider.name, pending)
        self._heartbeat = task.LoopingCall(self._beat)
        self._heartbeat.start(HEARTBEAT_SECONDS, now=False)
        self.crawler.signals.connect(self._on_idle, signal=signals.spider_idle)

    def close(self, reason: str) -> None:
        if self._heartbeat is not None and self._heartbeat.running:
            self._heartbeat.stop()
        if self.shared is None:
            return
        try:
            if self.shared.leave():
                self.shared.reset()
                logger.info("last worker of the shared crawl of %s: its keys are cleared",
                            self.spider.name)
        except redis.RedisError as exc:
            # Without Redis this worker cannot tell; it records the run's end itself.
            self.shared.was_last = True
            logger.error("could not leave the shared crawl in Redis: %s", exc)

    # --- Redis failures stop the crawl visibly -----------------------------------------------
    def _lose(self, exc: Exception) -> None:
        if self.stats is not None:
            self.stats.inc_value("tutorwatch/redis/errors")
        if self.lost:
            return
        self.lost = True
        logger.error("lost Redis (%s): stopping this crawl; a rerun resumes it", exc)
        engine = self.crawler.engine
        if engine is not None and engine.spider is not None:
            deferred_from_coro(engine.close_spider_async(reason="redis_unavailable"))

    def _beat(self) -> None:
        if self.lost or self.shared is None:
            return
        engine = self.crawler.engine
        try:
            busy = engine is not None and engine.spider is not None and not engine.spider_is_idle()
            self.shared.heartbeat(busy)
        except redis.RedisError as exc:
            self._lose(exc)
        except RuntimeError:
            pass  # the engine slot is gone: the spider is closing

    def __len__(self) -> int:
        if self.lost:
            return 0
        try:
            return len(self.queue)
        except redis.RedisError as exc:
            self._lose(exc)
            return 0

    def has_pending_requests(self) -> bool:
        return len(self) > 0

    def enqueue_request(self, request: Request) -> bool:
        if self.lost:
            return False
        try:
            if not request.dont_filter and self.df.request_seen(request):
                self.df.log(request, self.spider)
                return False
            self.queue.push(request)
        except redis.RedisError as exc:
            self._lose(exc)
            return False
        if self.stats is not None:
            self.stats.inc_value("scheduler/enqueued/redis")
        return True

    def _backlogged(self) -> bool:
        """Whether this worker already has enough downloaded pages waiting to be processed."""
        scraper = getattr(self.crawler.engine, "scraper", None)
        slot = getattr(scraper, "slot", None)
        return slot is not None and len(slot.queue) + len(slot.active) >= self.max_backlog

    def next_request(self) -> Request | None:
        if self.lost or self._backlogged():
            return None
        try:
            request = self.queue.pop()
        except redis.RedisError as exc:
            self._lose(exc)
            return None
        if request is not None and self.stats is not None:
            self.stats.inc_value("scheduler/dequeued/redis")
        return request

    # --- closing together ----------------------------------------------------------------------
    def _on_idle(self, spider: Any) -> None:
        """This worker is idle. It may close only once the frontier is empty and every other
        worker has been idle for ``idle_close`` seconds: a busy one may still add links."""
        if self.lost or self.shared is None:
            return
        try:
            self.shared.heartbeat(False)
            done = len(self.queue) == 0 and not self.shared.others_busy()
        except redis.RedisError as exc:
            self._lose(exc)
            return
        now = time.monotonic()
        if not done:
            self._idle_since = None
        elif self._idle_since is None:
            self._idle_since = now
        if done and now - self._idle_since >= self.idle_close:
            return
        slot = getattr(self.crawler.engine, "_slot", None)
        if slot is not None:
            # Look at the shared frontier again soon, not at Scrapy's 5-second heartbeat.
            slot.nextcall.schedule(IDLE_POLL_SECONDS)
        raise DontCloseSpider("waiting for the other workers of the shared crawl")
