"""A gateway stand-in that writes its replies byte by byte on a raw socket (127.0.0.1, port 0).

The scripted gateway of the other tests answers with whole replies; abusing the client needs
control of the wire itself: a reply of hundreds of megabytes streamed without a Content-Length,
or one trickled a byte at a time. Each request is answered by the handler registered for its
command (`/http/<command>`), which writes to the socket as it likes; `auth` answers a session
by default. A handler can wait on `release` (set by `close()`), so nothing outlives the test.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from contextlib import suppress

SESSION_ID = "0123456789abcdef0123456789abcdef"

Handler = Callable[[socket.socket], None]


def whole(body: bytes) -> Handler:
    """Answer `body` at once, with its Content-Length."""

    def answer(sock: socket.socket) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
        sock.sendall(head + body)

    return answer


class RawGateway:
    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {"auth": whole(f"OK: {SESSION_ID}".encode())}
        self.commands: list[str] = []
        self.sent_bytes = 0  # what the handlers wrote, counted by `count_sent`
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._threads: list[threading.Thread] = []
        self._connections: list[socket.socket] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def on(self, command: str, handler: Handler) -> None:
        self.handlers[command] = handler

    def count_sent(self, count: int) -> None:
        with self._lock:
            self.sent_bytes += count

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            with self._lock:
                self._connections.append(sock)
                self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket) -> None:
        with sock, suppress(OSError):
            reader = sock.makefile("rb")
            while not self.release.is_set():
                command = _read_request(reader)
                if command is None:
                    return
                with self._lock:
                    self.commands.append(command)
                self.handlers.get(command, whole(b"ERR: 101, Invalid or missing parameters"))(sock)

    def close(self) -> None:
        self.release.set()
        self._listener.close()
        with self._lock:
            connections, threads = list(self._connections), list(self._threads)
        for sock in connections:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(5)

    def __enter__(self) -> RawGateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_request(reader: object) -> str | None:
    """The command of the next request on the connection (its body is read and dropped)."""
    line = reader.readline()  # type: ignore[attr-defined]
    if not line:
        return None
    path = line.split()[1].decode("latin-1")
    length = 0
    while (header := reader.readline()) not in (b"\r\n", b"\n", b""):  # type: ignore[attr-defined]
        name, _, value = header.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    reader.read(length)  # type: ignore[attr-defined]
    return path.rstrip("/").rsplit("/", 1)[-1].removesuffix(".php")
