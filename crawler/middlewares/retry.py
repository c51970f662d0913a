"""Scrapy's retries, made polite and bounded.

- A 429 or 503 with ``Retry-After`` (seconds or an HTTP date) is retried after that wait; without
  it, after ``TUTORWATCH_RETRY_BACKOFF`` seconds doubled at each try. A site asking for more than
  ``TUTORWATCH_RETRY_AFTER_MAX`` seconds is not retried: the URL fails as ``http_429``/``http_503``.
- A timed-out request is retried at most ``TUTORWATCH_TIMEOUT_RETRY_TIMES`` times (a server that
  stalled for a whole ``DOWNLOAD_TIMEOUT`` rarely answers the next try), other failures up to
  ``RETRY_TIMES``.

Replaces ``scrapy.downloadermiddlewares.retry.RetryMiddleware`` at the same place in the chain.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Response
from scrapy.utils.response import response_status_message
from twisted.internet import defer, error

logger = logging.getLogger(__name__)
_TIMEOUTS = (defer.TimeoutError, error.TimeoutError, error.TCPTimedOutError)


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for, or None when it is missing or unreadable."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class PoliteRetryMiddleware(RetryMiddleware):
    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.backoff = settings.getfloat("TUTORWATCH_RETRY_BACKOFF", 1.0)
        self.retry_after_max = settings.getfloat("TUTORWATCH_RETRY_AFTER_MAX", 60.0)
        self.timeout_retry_times = settings.getint("TUTORWATCH_TIMEOUT_RETRY_TIMES", 1)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PoliteRetryMiddleware:
        middleware = cls(crawler.settings)
        middleware.crawler = crawler
        return middleware

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        wait = None
        if response.status in (429, 503):
            asked = retry_after_seconds(response.headers.get("Retry-After"))
            if asked is not None and asked > self.retry_after_max:
                logger.warning(
                    "%s asks to come back in %.0f s (more than TUTORWATCH_RETRY_AFTER_MAX %.0f s): "
                    "not retried", request.url, asked, self.retry_after_max,
                )
                self.crawler.stats.inc_value("tutorwatch/retry/retry_after_too_long")
                return response
            tries = request.meta.get("retry_times", 0)
            wait = asked if asked is not None else self.backoff * (2 ** tries)
        retry = self._retry(request, response_status_message(response.status))
        if retry is None:
            return response
        if wait:
            self.crawler.stats.inc_value("tutorwatch/retry/waited")
            await asyncio.sleep(wait)
        return retry

    def process_exception(
        self, request: Request, exception: Exception
    ) -> Request | Response | None:
        if isinstance(exception, _TIMEOUTS) and "max_retry_times" not in request.meta:
            request.meta["max_retry_times"] = min(self.timeout_retry_times, self.max_retry_times)
        return super().process_exception(request, exception)
