"""Scrapy's downloader, holding ``CONCURRENT_REQUESTS_PER_DOMAIN`` under the asyncio reactor, and
in a shared crawl for all its workers together.

Scrapy 2.14 (and 2.19) decides how many queued requests of a site may start by counting the
site's requests "transferring", but a request only counts once its download task has begun
to run. Under the asyncio reactor, ``Downloader._process_queue`` schedules tasks that start on a
later turn of the event loop, so one call empties the whole queue: with a limit of 2, a slow
site got 14 requests at once (docs/crawling.md, "Simultaneous requests per site", has the report
for upstream). Here a request counts as transferring from the moment its task is scheduled.

In a shared crawl (``TUTORWATCH_REDIS_URL``), each request also needs a lease of its slot from
Redis before it starts (:mod:`crawler.leases`), so that the slot's limit and
``DOWNLOAD_DELAY`` hold for every worker together rather than for each one: a slot refused a
lease is looked at again when Redis says, as Scrapy does for its own delay. Its requests stay in
the downloader meanwhile, so the engine does not take the crawl for idle. If Redis is lost, the
crawl stops (``redis_unavailable``) and the requests already in the downloader are fetched
under this worker's own limits.

Set as ``DOWNLOADER`` in ``crawler/settings.py``; the limits stay Scrapy's own settings
(``CONCURRENT_REQUESTS_PER_DOMAIN``, ``CONCURRENT_REQUESTS_PER_IP``, ``DOWNLOAD_SLOTS``,
``DOWNLOAD_DELAY``, ``RANDOMIZE_DOWNLOAD_DELAY``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from time import time
from typing import Any

import redis
from scrapy import Request
from scrapy.core.downloader import Downloader, Slot
from scrapy.crawler import Crawler
from scrapy.utils.asyncio import call_later
from scrapy.utils.defer import _schedule_coro
from twisted.internet.defer import Deferred

from crawler.leases import SlotLeases
from crawler.signals import shared_crawl_opened

logger = logging.getLogger(__name__)


class SlotLimitedDownloader(Downloader):
    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.leases: SlotLeases | None = None
        self._lose: Callable[[Exception], None] | None = None
        self._leased: dict[Slot, dict[Request, str]] = {}  # the leases of requests under way
        crawler.signals.connect(self._shared_crawl_opened, signal=shared_crawl_opened)

    def _shared_crawl_opened(self, shared: Any, lose: Callable[[Exception], None]) -> None:
        self.leases = shared.leases
        self._lose = lose

    def needs_backout(self) -> bool:
        """Whether the engine should take no more requests. In a shared crawl, also while this
        worker holds more requests that wait for a lease than it has under way: those are better
        left in the shared frontier, for a worker that can start them (or for the other workers
        to share when the slot is saturated) and out of reach of this worker's death."""
        if super().needs_backout():
            return True
        if self.leases is None:
            return False
        under_way = sum(len(held) for held in self._leased.values())
        return len(self.active) - under_way > under_way

    def _wait_for_download(self, slot: Slot, request: Request,
                           queue_dfd: Deferred) -> Coroutine[Any, Any, None]:
        # Called, not awaited, by _process_queue when it takes the request off the site's
        # queue: counting it here makes the loop there stop at the limit. _download adds it
        # again (a set) and removes it when the response or the error is in.
        slot.transferring.add(request)
        return super()._wait_for_download(slot, request, queue_dfd)

    def _process_queue(self, slot: Slot) -> None:
        if self.leases is None:
            super()._process_queue(slot)
            return
        try:
            # _download calls this once a request is done: its lease goes back first, and a
            # slot that waited for a lease asks again at once.
            if self._release_done(slot) and slot.latercall:
                slot.latercall.cancel()
                slot.latercall = None
            if slot.latercall:
                return
            while slot.queue and slot.free_transfer_slots() > 0:
                request, queue_dfd = slot.queue[0]
                lease, wait = self.leases.take(request.meta[self.DOWNLOAD_SLOT],
                                               slot.concurrency, slot.download_delay())
                if lease is None:
                    slot.latercall = call_later(wait, self._latercall, slot)
                    return
                slot.queue.popleft()
                self._leased.setdefault(slot, {})[request] = lease
                slot.lastseen = time()
                _schedule_coro(self._wait_for_download(slot, request, queue_dfd))
        except redis.RedisError as exc:
            self._unshare(exc)
            super()._process_queue(slot)

    def _release_done(self, slot: Slot) -> bool:
        """Give back the leases of the slot's requests that are done; whether there were any."""
        held = self._leased.get(slot)
        done = [request for request in held or () if request not in slot.transferring]
        if not done:
            return False
        leases = [held.pop(request) for request in done]
        if not held:
            del self._leased[slot]
        assert self.leases is not None
        self.leases.release(done[0].meta[self.DOWNLOAD_SLOT], leases)
        return True

    def _unshare(self, exc: Exception) -> None:
        """Redis is lost: stop the crawl, and fetch what this worker holds on its own limits."""
        self.leases = None
        self._leased.clear()
        if self._lose is not None:
            self._lose(exc)

    def close(self) -> None:
        super().close()
        if self.leases is not None and self._leased:
            try:
                for held in self._leased.values():
                    key = next(iter(held)).meta[self.DOWNLOAD_SLOT]
                    self.leases.release(key, list(held.values()))
            except redis.RedisError as exc:
                logger.warning("could not give back the slot leases (they expire): %s", exc)
            self._leased.clear()
