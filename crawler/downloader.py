"""Scrapy's downloader, holding ``CONCURRENT_REQUESTS_PER_DOMAIN`` under the asyncio reactor.

Scrapy 2.14 (and 2.19) decides how many queued requests of a site may start by counting the
site's requests "transferring", but a request only counts once its download task has begun
to run. Under the asyncio reactor, ``Downloader._process_queue`` schedules tasks that start on a
later turn of the event loop, so one call empties the whole queue: with a limit of 2, a slow
site got 14 requests at once (docs/crawling.md, "Simultaneous requests per site", has the report
for upstream). Here a request counts as transferring from the moment its task is scheduled.

Set as ``DOWNLOADER`` in ``crawler/settings.py``; the limits stay Scrapy's own settings
(``CONCURRENT_REQUESTS_PER_DOMAIN``, ``CONCURRENT_REQUESTS_PER_IP``, ``DOWNLOAD_SLOTS``,
``DOWNLOAD_DELAY``).
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from scrapy import Request
from scrapy.core.downloader import Downloader, Slot
from twisted.internet.defer import Deferred


class SlotLimitedDownloader(Downloader):
    def _wait_for_download(self, slot: Slot, request: Request,
                           queue_dfd: Deferred) -> Coroutine[Any, Any, None]:
        # Called, not awaited, by _process_queue when it takes the request off the site's
        # queue: counting it here makes the loop there stop at the limit. _download adds it
        # again (a set) and removes it when the response or the error is in.
        slot.transferring.add(request)
        return super()._wait_for_download(slot, request, queue_dfd)
