"""Local receivers for alert tests: a robot webhook (HTTP) and a mail server (SMTP), both on
127.0.0.1, recording what they got."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class WebhookReceiver:
    """Answers like a DingTalk/WeCom robot: ``{"errcode": 0, "errmsg": "ok"}`` (or ``reply``)."""

    reply: dict[str, Any] = field(default_factory=lambda: {"errcode": 0, "errmsg": "ok"})
    status: int = 200
    received: list[dict[str, Any]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/robot/send?access_token=t0k3n"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append({
                    "path": urlsplit(self.path).path,
                    "query": {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()},
                    "content_type": self.headers.get("Content-Type"),
                    "json": json.loads(body.decode("utf-8")),
                })
                data = json.dumps(receiver.reply).encode()
                self.send_response(receiver.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


class SmtpReceiver:
    """An aiosmtpd server on 127.0.0.1 keeping every message it is sent."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[dict[str, Any]] = []
        receiver = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                receiver.messages.append({
                    "from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                    "data": envelope.content.decode("utf-8", errors="replace"),
                })
                return "250 OK"

        with socket.socket() as sock:  # aiosmtpd needs a real port number to check itself
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpReceiver:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
