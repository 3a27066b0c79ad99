"""A loopback TCP proxy the tests can cut, to take a real store server down and bring it back.

Nothing is faked: the store's client talks real HTTP to a real server through a real socket; the proxy
only decides when that socket stops carrying bytes, as a crashed or unplugged cluster would.
"""

from __future__ import annotations

import socket
import threading


class CutoverProxy:
    """Forwards 127.0.0.1:<port> to `target`; `down()` drops every connection and refuses new ones until
    `up()`; with `cut_after_bytes`, it goes down by itself once that many bytes went to the server."""

    def __init__(self, target_host: str, target_port: int, cut_after_bytes: int | None = None) -> None:
        self.target = (target_host, target_port)
        self.cut_after_bytes = cut_after_bytes
        self.sent = 0
        self._lock = threading.Lock()
        self._connections: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            connections, self._connections = self._connections, []
        for sock in [listener, *connections]:
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            for sock in (client, server):  # no Nagle delay: a relayed request must not wait for an ACK
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    server.close()
                    return
                self._connections += [client, server]
            threading.Thread(target=self._pipe, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, to_server: bool) -> None:
        while True:
            try:
                data = source.recv(65536)
                if not data:
                    break
                if to_server and self._count(len(data)):
                    break
                sink.sendall(data)
            except OSError:
                break
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _count(self, n: int) -> bool:
        """True when this chunk crosses the cut-off: the proxy goes down instead of forwarding it."""
        with self._lock:
            self.sent += n
            crossed = self.cut_after_bytes is not None and self.sent > self.cut_after_bytes
        if crossed:
            self.cut_after_bytes = None
            threading.Thread(target=self.down, daemon=True).start()
        return crossed
