"""Scrapy's redirects (HTTP 3xx and ``<meta http-equiv=refresh>``), with loops named as such.

Scrapy follows a redirect by scheduling a new request; when a chain comes back to a URL it has
already visited, the duplicate filter drops that request without a word, and the page is lost
silently. Here a redirect to a URL already in the chain raises :class:`RedirectLoop`, and more
than ``REDIRECT_MAX_TIMES`` hops raise :class:`TooManyRedirects`, so the spider's errback can
count the URL under its reason.
"""

from __future__ import annotations

from typing import Any

from scrapy import Request
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware, RedirectMiddleware
from scrapy.exceptions import IgnoreRequest
from w3lib.url import canonicalize_url


class RedirectLoop(IgnoreRequest):
    """A redirect chain came back to a URL it had already visited."""


class TooManyRedirects(IgnoreRequest):
    """A redirect chain went on for more than REDIRECT_MAX_TIMES hops."""


class _LoopAware:
    max_redirect_times: int

    def _redirect(self, redirected: Request, request: Request, reason: Any) -> Request:
        chain = [*request.meta.get("redirect_urls", []), request.url]
        seen = {canonicalize_url(url) for url in chain}
        if canonicalize_url(redirected.url) in seen:
            raise RedirectLoop(f"redirect loop: {' -> '.join(chain)} -> {redirected.url}")
        try:
            return super()._redirect(redirected, request, reason)  # type: ignore[misc]
        except IgnoreRequest:
            raise TooManyRedirects(
                f"more than {self.max_redirect_times} redirects from {chain[0]}"
            ) from None


class LoopAwareRedirectMiddleware(_LoopAware, RedirectMiddleware):
    pass


class LoopAwareMetaRefreshMiddleware(_LoopAware, MetaRefreshMiddleware):
    pass
