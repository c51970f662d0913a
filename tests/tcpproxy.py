"""A TCP proxy on 127.0.0.1 that a test can cut, to lose a server (Redis, PostgreSQL) in the
middle of a crawl without touching the real one."""

from __future__ import annotations

import socket
import threading


class TcpProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self.lock:
                if self.closed:
                    client.close()
                    server.close()
                    return
                self.sockets += [client, server]
            for src, dst in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        """Refuse new connections and reset the open ones: the server is gone."""
        with self.lock:
            self.closed = True
            try:  # wakes the thread blocked in accept(); close() alone would not
                self.listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.listener.close()
            for sock in self.sockets:
                try:
                    linger_zero = b"\x01\x00\x00\x00\x00\x00\x00\x00"  # close = reset
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger_zero)
                    # shutdown() first: close() alone neither wakes a thread blocked in recv()
                    # nor tells the peer, so the server would keep the session (and its locks).
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
