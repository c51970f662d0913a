"""Decode every text response the way that reads cleanly, and stop treating binary bodies as text.

Runs after decompression and before anything reads ``response.text`` (meta refresh, spiders). The
decision itself is ``crawler.charset.decide_charset``; a spider's ``source.encoding`` overrides it.
Each decision is counted as ``tutorwatch/charset/<basis>`` (``declared``, ``overruled``,
``detected``, ``bom``, ``config``, ``ascii``, ``lossy``) and kept in ``response.meta["charset"]``.
A body that is an image or other binary file, whatever its Content-Type says, becomes a plain
:class:`~scrapy.http.Response` so that spiders count it instead of parsing it.
"""

from __future__ import annotations

import codecs
import logging
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response, TextResponse
from w3lib.encoding import http_content_type_encoding

from crawler.charset import decide_and_decode, looks_binary

logger = logging.getLogger(__name__)


class CharsetMiddleware:
    def __init__(self, crawler: Crawler | None = None) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CharsetMiddleware:
        return cls(crawler)

    def _count(self, key: str) -> None:
        if self.crawler is not None and self.crawler.stats is not None:
            self.crawler.stats.inc_value(f"tutorwatch/charset/{key}")

    def _override(self) -> str | None:
        spider: Any = getattr(self.crawler, "spider", None)
        source = getattr(spider, "source", None)
        return getattr(source, "encoding", None)

    def process_response(self, request: Request, response: Response) -> Response:
        if not isinstance(response, TextResponse) or not response.body:
            return response
        if looks_binary(response.body):
            self._count("binary")
            return Response(
                url=response.url, status=response.status, headers=response.headers,
                body=response.body, flags=[*response.flags, "binary"], request=request,
                ip_address=response.ip_address, protocol=response.protocol,
            )
        content_type = (response.headers.get("Content-Type") or b"").decode("latin-1")
        decision, text = decide_and_decode(response.body, content_type, self._override())
        self._count(decision.basis)
        if decision.basis in ("overruled", "lossy"):
            logger.info(
                "charset of %s: %s (%s; declared %s)", response.url, decision.encoding,
                decision.basis, ", ".join(decision.declared) or "nothing",
            )
        request.meta["charset"] = {
            "encoding": decision.encoding, "basis": decision.basis,
            "declared": list(decision.declared),
        }
        decoded = response.replace(encoding=decision.encoding)
        if text is not None and _read_alike(decision.encoding, decoded):
            # Deciding read the body whole, as response.text would read it again.
            decoded._cached_ubody = text
        return decoded


def _read_alike(encoding: str, response: TextResponse) -> bool:
    """Whether ``response.text`` decodes with ``encoding`` (Scrapy resolves the encoding it is
    given once more, as w3lib does) and is not decoded yet (Scrapy keeps it in
    ``_cached_ubody``)."""
    if getattr(response, "_cached_ubody", False) is not None:
        return False
    resolved = http_content_type_encoding(f"charset={encoding}")
    try:
        return resolved is not None and codecs.lookup(resolved).name == codecs.lookup(encoding).name
    except LookupError:
        return False
