"""The capturer (crawler/screenshots.py) with Debian's Chromium against sites on loopback
addresses: 127.0.0.1 is the ad's site, 127.0.0.2 stands for a host inside the bureau's network
(outside the allowed networks) and 127.0.0.3 for another site (inside the allowed networks, but
not the ad's host). Skipped without Chromium."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import shutil
import time

import pytest

from crawler.screenshots import MAX_HEIGHT, CaptureFailed, Capturer, png_size
from crawler.settings import chromium_args
from tests.crawler.capture_site import CaptureSite
from tests.crawler.guarded_sites import ad_page

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed"),
]
# 127.0.0.1 (the ad's site) and 127.0.0.3 (another site) may be reached; 127.0.0.2 may not.
NETWORKS = [ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("127.0.0.3/32")]


@pytest.fixture
def sites():
    made = [CaptureSite(host) for host in ("127.0.0.1", "127.0.0.2", "127.0.0.3")]
    yield made
    for site in made:
        site.stop()


def capture_all(urls: list[str], timeout: float = 10.0) -> list[object]:
    """Capture each URL in turn with one capturer: a Capture or the CaptureFailed."""

    async def go() -> list[object]:
        found: list[object] = []
        async with Capturer(CHROMIUM, chromium_args(os.geteuid()), NETWORKS,
                            timeout=timeout) as capturer:
            for url in urls:
                try:
                    found.append(await capturer.capture(url))
                except CaptureFailed as exc:
                    found.append(exc)
        return found

    return asyncio.run(go())


def test_it_captures_the_whole_page_as_a_png(sites):
    site = sites[0]
    (shot,) = capture_all([f"{site.url}/ad/0"])
    assert png_size(shot.png) == (shot.width, shot.height)
    assert shot.width == 1280 and shot.height >= 900
    assert shot.url == f"{site.url}/ad/0"
    assert site.browser_hits["/ad/0"] == 1


def test_the_page_cannot_make_the_browser_reach_inside_or_another_site(sites):
    site, inside, other = sites
    site.pages["/ad/x"] = (200, {}, ad_page("初中数学辅导", "电话13800000100", (
        f'<img src="{inside.url}/pixel.png"><img src="{other.url}/pixel.png">'
        f'<img src="/hop.png"><link rel="stylesheet" href="{other.url}/style.css">'
        f"<script>fetch('{inside.url}/beacon').catch(function(){{}});"
        f"fetch('{other.url}/beacon').catch(function(){{}});</script>")))
    site.pages["/hop.png"] = (302, {"Location": f"{inside.url}/after-redirect.png"}, b"")

    (shot,) = capture_all([f"{site.url}/ad/x"])
    assert dict(inside.hits) == {} and dict(other.hits) == {}
    assert site.hits["/hop.png"] == 1  # asked; the redirect's hop was refused at the gate
    assert set(shot.refused) == {f"{inside.url}/pixel.png", f"{other.url}/pixel.png",
                                 f"{other.url}/style.css", f"{inside.url}/beacon",
                                 f"{other.url}/beacon"}


def test_an_ad_page_that_redirects_inside_is_not_captured(sites):
    site, inside, _ = sites
    site.pages["/ad/moved"] = (302, {"Location": f"{inside.url}/landing"}, b"")
    (failure, ok) = capture_all([f"{site.url}/ad/moved", f"{inside.url}/ad/1"])
    assert isinstance(failure, CaptureFailed) and isinstance(ok, CaptureFailed)
    assert dict(inside.hits) == {}
    assert ok.reason == "blocked" and "127.0.0.2" in ok.message


def test_a_page_that_does_not_answer_in_time_fails_as_a_timeout_and_the_next_one_works(sites):
    site = sites[0]
    site.slow_seconds = 40
    started = time.monotonic()
    failure, shot = capture_all([f"{site.url}/slow", f"{site.url}/ad/1"], timeout=10)
    assert isinstance(failure, CaptureFailed)
    assert failure.reason == "timeout" and "10 s" in failure.message
    assert not isinstance(shot, CaptureFailed), shot
    assert png_size(shot.png)[0] == 1280
    assert time.monotonic() - started < 40


def test_hostile_pages_fail_or_are_cut_and_never_stop_the_capturer(sites):
    site = sites[0]
    urls = [f"{site.url}/{path}" for path in ("loop", "tall", "dialogs", "ad/2", "missing")]
    loop, tall, dialogs, after, missing = capture_all(urls, timeout=10)
    assert isinstance(loop, CaptureFailed) and loop.reason == "timeout"
    for shot in (tall, dialogs, after):
        assert not isinstance(shot, CaptureFailed), shot
    assert (tall.width, tall.height) == (1280, MAX_HEIGHT)
    assert dialogs.width == 1280  # the dialogs were dismissed, the pop-up refused
    assert site.hits["/popup"] == 0
    assert after.width == 1280
    assert isinstance(missing, CaptureFailed) and missing.reason == "http_404"
