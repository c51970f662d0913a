"""Rendering for sources with ``render: true``: scrapy-playwright's download handler, with the
browser kept to the source's sites and off inside networks, as the crawl's own requests are
(``crawler.middlewares.network_guard``).

- Every request the page makes (its navigation, scripts, images, XHR) is checked with the crawl's
  :class:`~crawler.middlewares.network_guard.NetworkGuard` through Playwright's request routing
  (scrapy-playwright's abort hook) and aborted when refused: counted as
  ``tutorwatch/render/refused/<reason>`` and logged.
- Playwright's routing never sees the hops of a redirect, and the browser resolves host names
  itself. So the browser makes every connection through :class:`SocksGate`, a SOCKS5 proxy of
  ours on 127.0.0.1 (the browser hands it host names, not addresses): it checks each host the
  same way, redirect hops included (``tutorwatch/render/refused_connections``), and connects to
  the very address it checked, so a DNS answer that changes in between cannot take the browser
  elsewhere. A page whose own navigation is refused so fails as the crawl's requests do
  (``BlockedRequest``: ``blocked_network`` or ``offsite_redirect``).

Chromium's own sandbox stays on unless the crawl runs as root (``chromium_args`` in
``crawler/settings.py``). Settings: those of the guard, and scrapy-playwright's
``PLAYWRIGHT_*`` (``PLAYWRIGHT_ABORT_REQUEST``, if set, is asked first).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Request as PlaywrightRequest
from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler
from twisted.internet.error import DNSLookupError

from crawler.middlewares.network_guard import (
    OFFSITE,
    OFFSITE_REDIRECT,
    BlockedRequest,
    NetworkGuard,
    Refusal,
    allowed_domains,
    network_guard,
)

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0
# SOCKS5 (RFC 1928) replies.
_SUCCEEDED, _NOT_ALLOWED, _HOST_UNREACHABLE, _REFUSED, _NO_COMMAND, _NO_ADDRESS_TYPE = (
    0, 2, 4, 5, 7, 8)
# Chromium flags that keep all of the page's traffic on the proxy: no UDP around it for WebRTC.
PROXIED_ONLY = ["--force-webrtc-ip-handling-policy=disable_non_proxied_udp"]


class SocksGate:
    """A SOCKS5 proxy on 127.0.0.1 that connects only to hosts ``guard`` allows, at the address
    it checked. ``domains()`` gives the allowed domains at each connection. The listening socket
    exists from the start (its port goes into the browser's launch options); connections are
    served once :meth:`start` has run on the event loop."""

    def __init__(self, guard: NetworkGuard, domains: Callable[[], Sequence[str]],
                 stats: Any = None) -> None:
        self.guard, self.domains, self.stats = guard, domains, stats
        self.socket = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port: int = self.socket.getsockname()[1]
        self.server: asyncio.AbstractServer | None = None
        self.refused = 0                        # connections refused so far
        self.last_refusal: Refusal | None = None
        self._said: set[str] = set()

    async def start(self) -> None:
        if self.server is None:
            self.server = await asyncio.start_server(self._serve, sock=self.socket)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        else:
            self.socket.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream = await self._handshake(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, UnicodeError, OSError):
            upstream = None
        if upstream is None:
            writer.close()
            return
        up_reader, up_writer = upstream
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    async def _handshake(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                         ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        version, methods = await reader.readexactly(2)
        await reader.readexactly(methods)
        if version != 5:
            return None
        writer.write(b"\x05\x00")  # no authentication: the port is on 127.0.0.1 only
        _, command, _, address_type = await reader.readexactly(4)
        if address_type == 1:
            host = socket.inet_ntoa(await reader.readexactly(4))
        elif address_type == 3:
            host = (await reader.readexactly((await reader.readexactly(1))[0])).decode("ascii")
        elif address_type == 4:
            host = socket.inet_ntop(socket.AF_INET6, await reader.readexactly(16))
        else:
            return await _reply(writer, _NO_ADDRESS_TYPE)
        (port,) = struct.unpack("!H", await reader.readexactly(2))
        if command != 1:  # CONNECT only
            return await _reply(writer, _NO_COMMAND)
        try:
            refusal, addresses = await self.guard.check_host(host, self.domains())
        except DNSLookupError:
            return await _reply(writer, _HOST_UNREACHABLE)
        if refusal is not None:
            self._refuse(refusal, host, port)
            return await _reply(writer, _NOT_ALLOWED)
        for address in addresses:
            try:
                upstream = await asyncio.wait_for(
                    asyncio.open_connection(str(address), port), CONNECT_TIMEOUT)
            except (OSError, TimeoutError):
                continue
            await _reply(writer, _SUCCEEDED)
            return upstream
        return await _reply(writer, _REFUSED)

    def _refuse(self, refusal: Refusal, host: str, port: int) -> None:
        self.refused += 1
        self.last_refusal = refusal
        if self.stats is not None:
            self.stats.inc_value("tutorwatch/render/refused_connections")
        if host not in self._said:  # a page may ask again and again: say it once
            self._said.add(host)
            logger.warning("the browser may not connect to %s:%s: %s", host, port,
                           refusal.message)


async def _reply(writer: asyncio.StreamWriter, code: int) -> None:
    writer.write(bytes([5, code, 0, 1, 0, 0, 0, 0, 0, 0]))
    with contextlib.suppress(ConnectionError):
        await writer.drain()
    return None


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


class GuardedPlaywrightHandler(ScrapyPlaywrightDownloadHandler):
    """scrapy-playwright's download handler, with the guards above. Set for ``render: true``
    sources by ``crawler.spiders.RENDER_SETTINGS``."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.guard = network_guard(crawler)
        self.gate = SocksGate(self.guard, lambda: allowed_domains(crawler), crawler.stats)
        options = dict(self.config.launch_options)
        options["proxy"] = {"server": f"socks5://127.0.0.1:{self.gate.port}"}
        options["args"] = [*options.get("args", []), *PROXIED_ONLY]
        self.config.launch_options = options
        self.user_abort = self.abort_request
        self.abort_request = self._abort
        crawler.signals.connect(self.gate.start, signal=signals.engine_started)

    async def _abort(self, request: PlaywrightRequest) -> bool:
        """Whether the browser's request must be aborted (scrapy-playwright's hook)."""
        if self.user_abort is not None:
            asked = self.user_abort(request)
            if asyncio.iscoroutine(asked):
                asked = await asked
            if asked:
                return True
        url = request.url
        scheme = urlsplit(url).scheme
        if scheme in ("data", "blob", "about"):
            return False  # nothing goes over the network
        http_url = url.replace("ws", "http", 1) if scheme in ("ws", "wss") else url
        try:
            refusal = await self.guard.check_url(http_url, allowed_domains(self._crawler))
        except DNSLookupError:
            return False  # the browser cannot reach it either
        if refusal is None:
            return False
        self.stats.inc_value(f"tutorwatch/render/refused/{refusal.reason}")
        logger.warning("the browser may not fetch %s: %s", url, refusal.message)
        return True

    async def download_request(self, request: Request) -> Response:
        refused_before = self.gate.refused
        try:
            return await super().download_request(request)
        except PlaywrightError as exc:
            # Chromium reports every failed SOCKS connection alike. When the gate refused one
            # while this page loaded, the page's own navigation was most likely sent where it
            # may not go (another page loading at the same moment could be the cause instead).
            refusal = self.gate.last_refusal
            if ("ERR_SOCKS_CONNECTION_FAILED" not in str(exc) or refusal is None
                    or self.gate.refused == refused_before):
                raise
            reason = OFFSITE_REDIRECT if refusal.reason == OFFSITE else refusal.reason
            raise BlockedRequest(reason, f"{request.url}: the browser was sent where it may "
                                         f"not go ({refusal.message})") from None

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            await self.gate.close()
