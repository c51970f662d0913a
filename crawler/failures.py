"""Name why a URL yielded no ad, for the crawl stats and the crawl summary.

Every URL a spider gives up on is counted once, after retries, as ``tutorwatch/failed/<reason>``;
URLs that are deliberately not fetched are ``tutorwatch/skipped/<reason>``. Reasons:

============================ =================================================================
``http_<code>``              the server answered an error status (``http_404``, ``http_500`` …)
``timeout``                  no complete answer within ``DOWNLOAD_TIMEOUT``
``dns``                      the host name does not resolve
``connection_refused``       nothing listens there
``connection_lost``          the connection broke before a whole response arrived
``too_big``                  the body exceeds ``DOWNLOAD_MAXSIZE``
``redirect_loop``            a redirect chain came back to a URL it had visited
``too_many_redirects``       more than ``REDIRECT_MAX_TIMES`` redirects
``blocked_network``          the URL, or a redirect from it, leads to a loopback, private,
                             link-local or reserved address outside
                             ``TUTORWATCH_ALLOW_NETWORKS``, or is not http(s): never fetched
``offsite_redirect``         a redirect (or the browser rendering the page) left the source's
                             ``allowed_domains``: the redirect is not followed
``binary_body``              an image, archive or other binary file, whatever its Content-Type
``empty_body``               a 200 with no body at all
``js_only``                  a page whose body has scripts but no text (see ``render: true``)
``not_json``                 a ``kind: json`` source answered something that is not JSON
``error_<name>``             anything else, by exception class
skipped ``robots_txt``       robots.txt forbids the URL
skipped ``offsite``          the URL is outside the source's ``allowed_domains``
============================ =================================================================

Plain functions, no Scrapy imports at module level.
"""

from __future__ import annotations

import re
from typing import Any

_OTHER = re.compile(r"[^a-z0-9_]+")


def failure_reason(exception: BaseException) -> tuple[str, str]:
    """``(tally, reason)`` for a request's failure: the tally it is counted under,
    ``failed`` or ``skipped``, and why."""
    from scrapy.exceptions import IgnoreRequest
    from scrapy.spidermiddlewares.httperror import HttpError
    from twisted.internet import defer, error
    from twisted.web._newclient import ResponseFailed, ResponseNeverReceived

    from crawler.middlewares.network_guard import BlockedRequest
    from crawler.middlewares.redirect import RedirectLoop, TooManyRedirects

    if isinstance(exception, BlockedRequest):
        # A request that was never inside the source's domains is skipped, as Scrapy's own
        # offsite filter would skip it; one that a redirect took elsewhere failed.
        return ("skipped" if exception.reason == "offsite" else "failed"), exception.reason
    if isinstance(exception, HttpError):
        return "failed", f"http_{exception.response.status}"
    if isinstance(exception, RedirectLoop):
        return "failed", "redirect_loop"
    if isinstance(exception, TooManyRedirects):
        return "failed", "too_many_redirects"
    if isinstance(exception, IgnoreRequest):
        text = str(exception).lower()
        if "robots.txt" in text:
            return "skipped", "robots_txt"
        if "maxsize" in text or "max size" in text:
            return "failed", "too_big"
        return "skipped", "offsite" if "offsite" in text or not text else "ignored"
    if isinstance(exception, (defer.TimeoutError, error.TimeoutError, error.TCPTimedOutError)):
        return "failed", "timeout"
    if isinstance(exception, defer.CancelledError):
        # Scrapy cancels a download whose body grows past DOWNLOAD_MAXSIZE.
        return "failed", "too_big"
    if isinstance(exception, error.DNSLookupError):
        return "failed", "dns"
    if isinstance(exception, error.ConnectionRefusedError):
        return "failed", "connection_refused"
    if isinstance(exception, (error.ConnectionLost, error.ConnectionDone, error.ConnectError,
                              ResponseFailed, ResponseNeverReceived)):
        return "failed", "connection_lost"
    return "failed", "error_" + _OTHER.sub("_", type(exception).__name__.lower()).strip("_")


def page_is_script_only(response: Any) -> bool:
    """Whether an HTML page's ``<body>`` has scripts but (almost) no text: it needs JavaScript."""
    if not response.xpath("//script"):
        return False
    words = response.xpath(
        "//body//text()[not(ancestor::script) and not(ancestor::style) and not(ancestor::noscript)"
        " and not(ancestor::template)]"
    ).getall()
    return len("".join(words).strip()) < 20
