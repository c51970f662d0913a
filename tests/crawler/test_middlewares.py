"""Small parts of the middlewares that the hostile-site crawl exercises end to end."""

from __future__ import annotations

from datetime import UTC, datetime

from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import defer, error

from crawler.failures import failure_reason
from crawler.middlewares.redirect import RedirectLoop, TooManyRedirects
from crawler.middlewares.retry import retry_after_seconds


def test_retry_after_reads_seconds_and_http_dates():
    now = datetime(2026, 11, 22, 8, 0, 0, tzinfo=UTC)
    assert retry_after_seconds(b"120") == 120
    assert retry_after_seconds("Sun, 22 Nov 2026 08:00:30 GMT", now=now) == 30
    assert retry_after_seconds("Sun, 22 Nov 2026 07:00:00 GMT", now=now) == 0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds(b"soon") is None


def test_failures_are_named():
    response = Response("http://127.0.0.1/x", status=404)
    assert failure_reason(HttpError(response)) == ("failed", "http_404")
    assert failure_reason(error.TimeoutError()) == ("failed", "timeout")
    assert failure_reason(defer.CancelledError()) == ("failed", "too_big")
    assert failure_reason(error.DNSLookupError()) == ("failed", "dns")
    assert failure_reason(error.ConnectionRefusedError()) == ("failed", "connection_refused")
    assert failure_reason(RedirectLoop("a -> b -> a")) == ("failed", "redirect_loop")
    assert failure_reason(TooManyRedirects("x")) == ("failed", "too_many_redirects")
    assert failure_reason(IgnoreRequest("Forbidden by robots.txt")) == ("skipped", "robots_txt")
    assert failure_reason(IgnoreRequest()) == ("skipped", "offsite")
    assert failure_reason(ValueError("x")) == ("failed", "error_valueerror")
