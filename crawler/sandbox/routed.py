"""A small loopback HTTP server around one routing function, for the sandbox sites that imitate
one behaviour each (blocking sites, feeds, sitemaps, site search).

``serve(route)`` starts a :class:`~crawler.sandbox.server.SandboxServer` on a free port (or the
one given) in a daemon thread; ``route(path, query)`` returns ``(status, headers, body)``.
The :class:`Routed` handle has the base URL, the paths asked for (``hits``) and ``stop()``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from crawler.sandbox.server import SandboxServer

Reply = tuple[int, dict[str, str], bytes]
Route = Callable[[str, dict[str, list[str]]], Reply]


@dataclass
class Routed:
    server: SandboxServer
    hits: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def serve(route: Route, port: int = 0) -> Routed:
    """Serve ``route`` on 127.0.0.1 in a daemon thread."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet in tests
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            hits.append(self.path)
            parts = urlsplit(self.path)
            try:
                status, headers, body = route(parts.path, parse_qs(parts.query))
            except Exception as exc:  # a bug in the sandbox must not hang a crawl
                status, headers, body = 500, {"Content-Type": "text/plain"}, str(exc).encode()
            self.send_response(status)
            for name, value in {"Content-Type": "text/html; charset=utf-8", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = SandboxServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, name="sandbox-routed", daemon=True).start()
    return Routed(server, hits)


def html(body: str, status: int = 200, **headers: str) -> Reply:
    return status, {"Content-Type": "text/html; charset=utf-8", **headers}, body.encode("utf-8")


def not_found() -> Reply:
    return html("<h1>404 Not Found</h1>", 404)
