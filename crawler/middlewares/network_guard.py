"""Keep a crawl to its source's sites and off inside networks, redirects and re-checks included.

Scrapy's offsite filter lets through every request with ``dont_filter``, and its redirect
middleware copies that flag onto the redirect: a re-checked ad whose URL now redirects to
``127.0.0.1``, ``169.254.169.254`` or a server inside the bureau's network would be fetched and,
if the page matched the selectors, stored. Here, for every request of a crawl:

- :class:`NetworkGuardMiddleware` (a downloader middleware, first in the chain, so before any
  robots.txt request) refuses a URL that is not http(s), whose host is outside the spider's
  ``allowed_domains``, or that resolves to an inside address (``crawler.network``: loopback,
  private, link-local, reserved …) outside ``TUTORWATCH_ALLOW_NETWORKS``. Host names are
  resolved with ``getaddrinfo`` on a thread, and refused if *any* address is inside. A response
  whose URL changed host on the way (a browser follows redirects itself) is checked again.
- :class:`GuardedResolver` (``DNS_RESOLVER``) checks the address each connection is really
  made to, at connect time, so a DNS answer that changed since the check (DNS rebinding) is
  refused too.
- :class:`FinalUrlPipeline` checks each ad's final URL once more before the store.

A refusal raises :class:`BlockedRequest`; the spider's errback counts the URL (under the URL the
crawl asked for) as ``tutorwatch/failed/blocked_network`` or ``tutorwatch/failed/
offsite_redirect`` (``tutorwatch/skipped/offsite`` for a request that was never inside the
source's domains), and one warning line says what was refused and why. Pages rendered by a
browser are guarded by ``crawler.render`` with the same :class:`NetworkGuard`.

Settings: ``TUTORWATCH_ALLOW_NETWORKS`` (CIDRs; from the environment variable of that name),
``DNS_TIMEOUT``, ``DNSCACHE_ENABLED`` and ``DNSCACHE_SIZE`` (of the resolver).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, IgnoreRequest
from scrapy.http import Response
from scrapy.resolver import CachingThreadedResolver
from twisted.internet.error import DNSLookupError

from crawler.network import (
    SETTING,
    IPAddress,
    IPNetwork,
    address_refusal,
    host_in_domains,
    literal_address,
    parse_networks,
)

logger = logging.getLogger(__name__)

BLOCKED = "blocked_network"
OFFSITE_REDIRECT = "offsite_redirect"
OFFSITE = "offsite"


class BlockedRequest(IgnoreRequest):
    """A request the network guard refused; ``reason`` is its failure reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Refusal:
    reason: str    # BLOCKED, OFFSITE_REDIRECT or OFFSITE
    message: str   # one line, for the log


class NetworkGuard:
    """Decides whether a crawl may reach a URL or a host. One per crawl (:func:`network_guard`),
    so that each host name is resolved once; ``networks`` are the allowed inside networks."""

    def __init__(self, networks: Sequence[IPNetwork] = (), dns_timeout: float = 60.0) -> None:
        self.networks = tuple(networks)
        self.dns_timeout = dns_timeout
        self._hosts: dict[str, tuple[str | None, tuple[IPAddress, ...]]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> NetworkGuard:
        return cls(parse_networks(crawler.settings.get(SETTING)),
                   crawler.settings.getfloat("DNS_TIMEOUT", 60.0))

    async def check_url(self, url: str, domains: Sequence[str] | None,
                        redirected: bool = False) -> Refusal | None:
        """Why the crawl must not fetch ``url``, or None. ``domains``: the source's allowed
        domains (none: any host); ``redirected``: whether a redirect led there."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            return Refusal(BLOCKED, f"{parts.scheme or 'no'} scheme: only http(s) is fetched")
        refusal, _ = await self.check_host(parts.hostname or "", domains, redirected)
        return refusal

    async def check_host(self, host: str, domains: Sequence[str] | None,
                         redirected: bool = False) -> tuple[Refusal | None, tuple[IPAddress, ...]]:
        """(why the crawl must not connect to ``host``, or None; the addresses it checked).
        A host name that does not resolve raises ``DNSLookupError``."""
        if not host:
            return Refusal(BLOCKED, "the URL has no host"), ()
        if domains and not host_in_domains(host, domains):
            return Refusal(OFFSITE_REDIRECT if redirected else OFFSITE,
                           f"{host} is outside the source's allowed_domains "
                           f"({', '.join(domains)})"), ()
        refusal, addresses = await self._vet(host)
        return (Refusal(BLOCKED, refusal) if refusal else None), addresses

    async def _vet(self, host: str) -> tuple[str | None, tuple[IPAddress, ...]]:
        key = host.lower().rstrip(".")
        known = self._hosts.get(key)
        if known is not None:
            return known
        literal = literal_address(host)
        if literal is not None:
            known = (address_refusal(literal, self.networks), (literal,))
        else:
            addresses = await self._resolve(host)
            for address in addresses:
                if (refusal := address_refusal(address, self.networks)) is not None:
                    known = (f"{host} resolves to {refusal}", addresses)
                    break
            else:
                known = (None, addresses)
        self._hosts[key] = known
        return known

    async def _resolve(self, host: str) -> tuple[IPAddress, ...]:
        # getaddrinfo runs on the event loop's thread pool: every address, IPv4 and IPv6.
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, None, type=socket.SOCK_STREAM), self.dns_timeout)
        except (OSError, UnicodeError, TimeoutError) as exc:
            raise DNSLookupError(f"{host}: {exc or 'timed out'}") from None
        found: dict[IPAddress, None] = {}
        for *_, sockaddr in infos:
            found[ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])] = None
        if not found:
            raise DNSLookupError(f"{host}: no address")
        return tuple(found)


def network_guard(crawler: Crawler) -> NetworkGuard:
    """The crawl's one :class:`NetworkGuard`, shared by the middleware, the final-URL stage and
    the rendering browser's guards."""
    guard = getattr(crawler, "tutorwatch_network_guard", None)
    if guard is None:
        guard = NetworkGuard.from_crawler(crawler)
        crawler.tutorwatch_network_guard = guard
    return guard


def allowed_domains(crawler: Crawler | None) -> list[str]:
    """The running spider's ``allowed_domains`` (empty: any host)."""
    spider = getattr(crawler, "spider", None)
    return list(getattr(spider, "allowed_domains", None) or [])


def refused(request: Request, url: str, refusal: Refusal) -> BlockedRequest:
    """Log the refusal of ``url`` (fetched for ``request``) in one line; the exception to raise."""
    asked = (request.meta.get("redirect_urls") or [request.url])[0]
    via = f" (asked for {asked})" if asked != url else ""
    logger.warning("refused %s%s: %s", url, via, refusal.message)
    return BlockedRequest(refusal.reason, f"{url}: {refusal.message}")


class NetworkGuardMiddleware:
    def __init__(self, guard: NetworkGuard, crawler: Crawler | None = None) -> None:
        self.guard = guard
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> NetworkGuardMiddleware:
        return cls(network_guard(crawler), crawler)

    async def process_request(self, request: Request) -> None:
        redirected = bool(request.meta.get("redirect_urls"))
        refusal = await self.guard.check_url(request.url, allowed_domains(self.crawler),
                                             redirected)
        if refusal is not None:
            raise refused(request, request.url, refusal)

    async def process_response(self, request: Request, response: Response) -> Response:
        # Scrapy's own download handler answers for the URL it was asked; a browser follows
        # redirects itself, and its response carries the URL it ended on.
        if urlsplit(response.url).hostname == urlsplit(request.url).hostname:
            return response
        refusal = await self.guard.check_url(response.url, allowed_domains(self.crawler),
                                             redirected=True)
        if refusal is not None:
            raise refused(request, response.url, refusal)
        return response


class GuardedResolver(CachingThreadedResolver):
    """Scrapy's default DNS resolver, refusing to give a connection an inside address outside
    ``TUTORWATCH_ALLOW_NETWORKS``: the middleware checked the host a moment before, but a
    host name's DNS answer can change in between. The connection then fails as ``dns``."""

    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: Any) -> GuardedResolver:
        resolver = super().from_crawler(crawler, reactor)
        resolver.networks = parse_networks(crawler.settings.get(SETTING))
        return resolver

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> Any:  # noqa: N802
        return super().getHostByName(name, timeout).addCallback(self._vet, name)

    def _vet(self, address: str, name: str) -> str:
        refusal = address_refusal(ipaddress.ip_address(address), self.networks)
        if refusal is not None:
            logger.warning("refused to connect to %s: it now resolves to %s", name, refusal)
            raise DNSLookupError(f"{name}: {refusal}")
        return address


class FinalUrlPipeline:
    """The store's last check (just before it): an ad's final URL, after every redirect, must
    still be one the crawl may fetch. Items of spiders without a source pass untouched."""

    def __init__(self, guard: NetworkGuard, crawler: Crawler | None = None) -> None:
        self.guard = guard
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FinalUrlPipeline:
        from crawler.pipelines import for_sources_only

        for_sources_only(crawler)  # off for Scrapy's own tools, as every stage is
        return cls(network_guard(crawler), crawler)

    async def process_item(self, item: Any) -> Any:
        spider = getattr(self.crawler, "spider", None)
        if (getattr(spider, "source", None) is None or not isinstance(item, dict)
                or item.get("takedown") or not item.get("url")):
            return item
        url = item["url"]
        try:
            refusal = await self.guard.check_url(url, allowed_domains(self.crawler),
                                                 redirected=True)
        except DNSLookupError as exc:
            refusal = Refusal(BLOCKED, f"cannot be checked: {exc}")
        if refusal is None:
            return item
        logger.warning("not storing the ad at %s: %s", url, refusal.message)
        spider.record_failure(url, refusal.reason)
        raise DropItem(f"not stored: {url}: {refusal.message}")
