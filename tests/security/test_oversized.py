"""Bodies over 64 KiB are refused with 413 on every path, however they are framed: with a
Content-Length (true or not), chunked without one, and at the WSGI layer itself for a server
that passes a body of unknown length through. Exactly 64 KiB is still read."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable
from typing import Any

import pytest

from bot.testing.app import RunningApp
from bot.testing.signing import SECRET, signed_headers
from bot.web import MAX_BODY, WebApp
from tests.security.support import raw_request

PATHS = ["/slack/events", "/clickatell/status", "/clickatell/mo", "/healthz"]
OVER = MAX_BODY + 1


def _headers(app: RunningApp, path: str, body: bytes) -> dict[str, str]:
    """Valid credentials for the path, so the size is the only thing wrong."""
    if path == "/slack/events":
        return signed_headers(SECRET, body)
    user, password = app.callback_auth
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Content-Type": "application/x-www-form-urlencoded", "Authorization": f"Basic {token}"}


def _chunks(body: bytes, size: int = 8192) -> Iterable[bytes]:
    return (body[i : i + size] for i in range(0, len(body), size))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_body_over_64_kib_is_413(app: RunningApp, path: str, framing: str) -> None:
    body = b"text=" + b"a" * (OVER - 5)
    answer = raw_request(
        app.url,
        "POST",
        path.encode(),
        _headers(app, path, body),
        _chunks(body) if framing == "chunked" else body,
        chunked=framing == "chunked",
    )
    assert answer.status == 413, (path, framing, answer)
    assert len(answer.body) < 300
    assert app.state.inbox_total() == 0


@pytest.mark.parametrize("path", PATHS)
def test_announced_length_over_64_kib_is_413_before_reading(app: RunningApp, path: str) -> None:
    """A Content-Length of 1 GiB with no body sent: answered at once, nothing buffered."""
    headers = {**_headers(app, path, b""), "Content-Length": str(1 << 30)}
    answer = raw_request(app.url, "POST", path.encode(), headers, b"", timeout=10)
    assert answer.status == 413, (path, answer)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_exactly_64_kib_is_not_refused_for_its_size(
    app: RunningApp, path: str, framing: str
) -> None:
    """The limit is on the body, not on its framing: chunked, 64 KiB of body take more bytes on
    the wire (chunk sizes, CRLFs), and were refused by the HTTP server until it was told so."""
    body = b"x=" + b"a" * (MAX_BODY - 2)
    chunked = framing == "chunked"
    answer = raw_request(
        app.url,
        "POST",
        path.encode(),
        _headers(app, path, body),
        _chunks(body, 1024) if chunked else body,
        chunked=chunked,
    )
    assert answer.status != 413, (path, framing, answer)
    assert answer.status < 500, (path, framing, answer)


class _Stream(io.RawIOBase):
    """A wsgi.input that yields `size` bytes and counts what was read from it."""

    def __init__(self, size: int) -> None:
        self.left, self.read_total = size, 0

    def readable(self) -> bool:
        return True

    def read(self, limit: int = -1) -> bytes:
        count = self.left if limit is None or limit < 0 else min(limit, self.left)
        self.left -= count
        self.read_total += count
        return b"a" * count


@pytest.mark.parametrize("content_length", ["", "10"])
def test_wsgi_layer_bounds_a_body_of_unknown_or_false_length(content_length: str) -> None:
    """Without a Content-Length (a server passing chunked bodies through) the app reads at most
    64 KiB + 1 bytes and answers 413; with a false small one it reads only what was announced."""
    reached: list[bytes] = []

    def route(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        reached.append(environ["wsgi.input"].read())
        start_response("200 OK", [])
        return [b""]

    stream = _Stream(10 * MAX_BODY)
    environ = {
        "PATH_INFO": "/clickatell/status",
        "REQUEST_METHOD": "POST",
        "CONTENT_LENGTH": content_length,
        "wsgi.input": stream,
    }
    statuses: list[str] = []
    WebApp({"/clickatell/status": route})(environ, lambda status, headers: statuses.append(status))
    if content_length:
        assert statuses == ["200 OK"] and reached == [b"a" * 10]
        assert stream.read_total == 10
    else:
        assert statuses[0].startswith("413") and reached == []
        assert stream.read_total == MAX_BODY + 1
