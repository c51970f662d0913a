"""Full-page screenshots of ads by headless Chromium, kept to the ad's own site and off inside
networks: plain asyncio and Playwright, no Scrapy engine, no Django.

:class:`Capturer` keeps one browser for many captures (a new browser context for each page) and
starts a new browser after any failure, so a page that hangs or crashes it cannot spoil the
next capture. Each capture:

- reaches only the ad's own host (and its subdomains) and never an inside address outside
  ``TUTORWATCH_ALLOW_NETWORKS``: every request the page makes is checked with the crawl's
  :class:`~crawler.middlewares.network_guard.NetworkGuard` through Playwright's routing and
  aborted when refused, and every connection goes through the crawl's SOCKS gate
  (:class:`crawler.render.SocksGate`), which checks redirect hops too and connects to the very
  address it checked;
- refuses downloads, pop-ups, dialogs, service workers and permission prompts;
- is bounded by ``timeout`` seconds in all (navigation, settling, screenshot), and by
  ``MAX_HEIGHT`` pixels of page height (a longer page is cut there);
- fails with :class:`CaptureFailed`, whose ``reason`` is one line (``timeout``, ``blocked``,
  ``http_404``, ``browser``…) and ``message`` says what happened.

Chromium's own sandbox stays on unless the process runs as root (``chromium_args`` in
``crawler/settings.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from crawler.middlewares.network_guard import NetworkGuard, Refusal
from crawler.network import IPNetwork
from crawler.render import PROXIED_ONLY, SocksGate

logger = logging.getLogger(__name__)

VIEWPORT = {"width": 1280, "height": 900}
MAX_HEIGHT = 12000        # pixels: a page longer than this is cut (a hostile page can be endless)
SETTLE_SECONDS = 0.5      # after the load event, for late layout (fonts, images)
CLOSE_TIMEOUT = 5.0       # seconds to close a context or browser before it is killed
# The page may not open windows (a link with target=_blank still may: its requests are refused).
NO_POPUPS = "window.open = function () { return null; };"
LAUNCH_TIMEOUT = 60.0     # seconds for Chromium to start (not counted in a capture's timeout)


class CaptureFailed(Exception):
    """A capture that did not give an image; ``reason`` is a short code, ``message`` one line."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason, self.message = reason, message


@dataclass(frozen=True)
class Capture:
    png: bytes
    width: int
    height: int
    url: str                  # the URL the page ended on
    refused: tuple[str, ...] = field(default=())  # requests of the page that were refused


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's header."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    return struct.unpack(">II", png[16:24])


def own_domains(url: str) -> list[str]:
    """The hosts a capture of ``url`` may reach: the ad's own (and its subdomains)."""
    host = urlsplit(url).hostname or ""
    return [host] if host else []


class Capturer:
    """Captures pages one at a time with one headless Chromium (``async with``)."""

    def __init__(self, chromium: str, args: Sequence[str], networks: Sequence[IPNetwork] = (),
                 timeout: float = 30.0, dns_timeout: float = 10.0) -> None:
        self.chromium, self.args = chromium, list(args)
        self.timeout = timeout
        self.guard = NetworkGuard(networks, dns_timeout)
        self._domains: list[str] = []
        self.gate = SocksGate(self.guard, lambda: self._domains)
        self._playwright: Any = None
        self._browser: Any = None

    async def __aenter__(self) -> Capturer:
        from playwright.async_api import async_playwright

        await self.gate.start()
        self._playwright = await async_playwright().start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._close_browser()
        if self._playwright is not None:
            with contextlib.suppress(Exception):
                await self._playwright.stop()
        await self.gate.close()

    async def _launch(self) -> Any:
        if self._browser is None or not self._browser.is_connected():
            if not self.chromium:
                raise CaptureFailed("no_browser", "no Chromium found (TUTORWATCH_CHROMIUM)")
            self._browser = await self._playwright.chromium.launch(
                executable_path=self.chromium, headless=True,
                args=[*self.args, *PROXIED_ONLY],
                proxy={"server": f"socks5://127.0.0.1:{self.gate.port}"},
            )
        return self._browser

    async def _close_browser(self) -> None:
        browser, self._browser = self._browser, None
        if browser is None:
            return
        try:
            await asyncio.wait_for(browser.close(), CLOSE_TIMEOUT)
        except Exception:  # a hung browser: its process goes with Playwright's driver
            logger.warning("the capture browser did not close in %s s", CLOSE_TIMEOUT)

    async def capture(self, url: str) -> Capture:
        """A full-page PNG of ``url``, or :class:`CaptureFailed`."""
        self._domains = own_domains(url)
        refusal = await self._check(url)
        if refusal is not None:
            raise CaptureFailed("blocked", refusal.message)
        try:
            browser = await asyncio.wait_for(self._launch(), LAUNCH_TIMEOUT)
        except TimeoutError:
            await self._close_browser()
            raise CaptureFailed("browser", f"Chromium did not start in {LAUNCH_TIMEOUT:g} s"
                                ) from None
        except CaptureFailed:
            raise
        except Exception as exc:
            await self._close_browser()
            raise CaptureFailed("browser", _one_line(exc)) from None
        try:
            return await asyncio.wait_for(self._capture(browser, url), self.timeout)
        except TimeoutError:
            await self._close_browser()  # the page may still run: start afresh
            raise CaptureFailed("timeout", f"no screenshot within {self.timeout:g} s") from None
        except CaptureFailed:
            raise  # the page answered, or was refused: the browser is fine
        except Exception as exc:  # anything the page did to the browser
            await self._close_browser()
            raise CaptureFailed("browser", _one_line(exc)) from None

    async def _check(self, url: str, redirected: bool = False) -> Refusal | None:
        from twisted.internet.error import DNSLookupError

        try:
            return await self.guard.check_url(url, self._domains, redirected)
        except DNSLookupError as exc:
            return Refusal("dns", str(exc))

    async def _capture(self, browser: Any, url: str) -> Capture:
        context = await browser.new_context(
            viewport=VIEWPORT, accept_downloads=False, service_workers="block",
            java_script_enabled=True, bypass_csp=False, locale="zh-CN",
        )
        refused: list[str] = []
        try:
            await context.add_init_script(NO_POPUPS)
            page = await context.new_page()
            await context.route("**/*", lambda route: self._route(route, refused, page))
            context.on("page", _close_popup)
            page.on("dialog", _dismiss)
            response = await page.goto(url, wait_until="load")
            if response is None:
                raise CaptureFailed("browser", f"{url}: no response")
            final = page.url
            if final != url and (refusal := await self._check(final, redirected=True)):
                raise CaptureFailed("blocked", f"sent to {final}: {refusal.message}")
            if response.status >= 400:
                raise CaptureFailed(f"http_{response.status}", f"{url} answered {response.status}")
            await asyncio.sleep(SETTLE_SECONDS)
            png = await self._screenshot(page)
            width, height = png_size(png)
            return Capture(png, width, height, final, tuple(refused))
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(context.close(), CLOSE_TIMEOUT)

    async def _screenshot(self, page: Any) -> bytes:
        height = await page.evaluate(
            "() => Math.max(document.documentElement ? document.documentElement.scrollHeight : 0,"
            " document.body ? document.body.scrollHeight : 0)")
        height = int(height or 0)
        if height > MAX_HEIGHT:
            return await page.screenshot(full_page=True, type="png", animations="disabled",
                                         clip={"x": 0, "y": 0, "width": VIEWPORT["width"],
                                               "height": MAX_HEIGHT})
        return await page.screenshot(full_page=True, type="png", animations="disabled")

    async def _route(self, route: Any, refused: list[str], page: Any) -> None:
        request_url = route.request.url
        try:
            own = route.request.frame.page == page
        except Exception:  # a service worker's request has no frame
            own = False
        if not own:  # a pop-up's, a worker's: the capture is of the ad's page alone
            refused.append(request_url)
            await route.abort("blockedbyclient")
            return
        scheme = urlsplit(request_url).scheme
        if scheme in ("data", "blob", "about"):
            await route.continue_()
            return
        refusal = await self._check(request_url)
        if refusal is None:
            await route.continue_()
            return
        refused.append(request_url)
        logger.info("capture: refused %s: %s", request_url, refusal.message)
        await route.abort("blockedbyclient")


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__


def _close_popup(page: Any) -> None:
    # window.open from the ad's page: never let it load anything (the capture is of one page).
    asyncio.ensure_future(_close_if_popup(page))


async def _close_if_popup(page: Any) -> None:
    with contextlib.suppress(Exception):
        if await page.opener() is not None:
            await page.close()


def _dismiss(dialog: Any) -> None:
    asyncio.ensure_future(_quietly(dialog.dismiss()))


async def _quietly(awaitable: Any) -> None:
    with contextlib.suppress(Exception):
        await awaitable
