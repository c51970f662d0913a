"""Slow sandbox sites for the distributed-crawl benchmark (``benchmarks/workers.py``): bulk sites
(``crawler/sandbox/bulk.py``) whose detail pages take ``delay`` seconds, each on a loopback
address of its own (127.0.0.1, 127.0.0.2, …) so that each is a download slot of its own. Each
counts the most requests it answered at once (``most``) and when it served its first and last
page (``first``, ``last``: ``time.monotonic``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from crawler.sandbox.bulk import BulkSite, _Handler, source_yaml
from crawler.sandbox.server import SiteHandle, serve_site


@dataclass
class SlowSite(BulkSite):
    delay: float = 0.2
    now: int = 0
    most: int = 0
    first: float = 0.0
    last: float = 0.0

    def route(self, path: str) -> tuple[int, bytes]:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)
            self.first = self.first or time.monotonic()
        try:
            return super().route(path)
        finally:
            with self._lock:
                self.now -= 1
                self.last = time.monotonic()

    def reset(self) -> None:
        with self._lock:
            self.most, self.first, self.last = 0, 0.0, 0.0
            self.hits.clear()


def start_slow_sites(sites: int, pages: int, delay: float = 0.2,
                     per_list: int = 9) -> list[SiteHandle]:
    """``sites`` slow sites of ``pages`` pages each, on 127.0.0.1, 127.0.0.2, …"""
    return [serve_site(SlowSite(pages=pages, per_list=per_list, delay=delay), _Handler,
                       f"sandbox-slow-{n}", host=f"127.0.0.{n}")
            for n in range(1, sites + 1)]


def slow_source_yaml(name: str, handles: list[SiteHandle]) -> str:
    """One source whose start URLs are the first list page of every site."""
    one = source_yaml(name, handles[0].url)
    starts = ", ".join(f'"{handle.url}/list/1.html"' for handle in handles)
    return one.replace(f'["{handles[0].url}/list/1.html"]', f"[{starts}]")
