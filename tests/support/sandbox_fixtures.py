"""Helpers of the sandbox's own tests: a small API client that sends literal commas (as the
protocol requires), and a callback receiver that records every request and can be told to fail
first. (Their clock is bot/testing/clocks.py's `ManualClock`.)
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

import requests

from bot.gateway.clickatell_http.callbacks import parse_params
from bot.gateway.clickatell_http.sandbox.server import shutdown_promptly

Pairs = Mapping[str, str | bytes] | Iterable[tuple[str, str | bytes]]


def encode_form(pairs: Pairs) -> str:
    """A form body/query with commas left literal; bytes values are sent as those bytes."""
    items = pairs.items() if isinstance(pairs, Mapping) else pairs
    return "&".join(f"{quote(k, safe='')}={quote(v, safe=',')}" for k, v in items)


class Api:
    """Calls sandbox commands over real HTTP and returns the reply body."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.http = requests.Session()
        self.session_id: str | None = None

    def post(self, path: str, pairs: Pairs = (), **headers: str) -> requests.Response:
        headers = {"Content-Type": "application/x-www-form-urlencoded", **headers}
        return self.http.post(self.base_url + path, data=encode_form(pairs), headers=headers)

    def get(self, path: str, pairs: Pairs = ()) -> requests.Response:
        query = encode_form(pairs)
        return self.http.get(f"{self.base_url}{path}?{query}")

    def login(self, api_id: str = "1", user: str = "u", password: str = "p") -> str:
        reply = self.post("/http/auth", {"api_id": api_id, "user": user, "password": password})
        assert reply.text.startswith("OK: "), reply.text
        self.session_id = reply.text[4:]
        return self.session_id

    def call(self, command: str, pairs: Pairs = (), method: str = "POST") -> str:
        """`/http/<command>` (or a full path starting with `/`) with the session added."""
        path = command if command.startswith("/") else f"/http/{command}"
        items = list(pairs.items() if isinstance(pairs, Mapping) else pairs)
        if self.session_id is not None:
            items.insert(0, ("session_id", self.session_id))
        response = self.post(path, items) if method == "POST" else self.get(path, items)
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"] == "text/plain"
        return response.text

    def close(self) -> None:
        self.http.close()


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    answered: int

    @property
    def params(self) -> dict[str, bytes]:
        return parse_params(self.body)

    def text(self, name: str) -> str:
        return self.params[name].decode("latin-1")


class CallbackReceiver:
    """A local HTTP server standing in for the bot's callback endpoints.

    Answers 401 without the expected basic credentials; otherwise the next status from
    `fail_with` (to prove retries), then 200. Every request is recorded.
    """

    def __init__(self, user: str | None = None, password: str | None = None):
        self.requests: list[Received] = []
        self.fail_with: list[int] = []
        self._lock = threading.Lock()
        expected = None
        if user is not None:
            expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver._lock:
                    if expected is not None and self.headers.get("Authorization") != expected:
                        status = 401
                    elif receiver.fail_with:
                        status = receiver.fail_with.pop(0)
                    else:
                        status = 200
                    receiver.requests.append(
                        Received("POST", self.path, dict(self.headers), body, status)
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def accepted(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [
                r for r in self.requests if r.answered == 200 and (path is None or r.path == path)
            ]

    def close(self) -> None:
        shutdown_promptly(self._server)
        self._server.server_close()
        self._thread.join(timeout=5)
