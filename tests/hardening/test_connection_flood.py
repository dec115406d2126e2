"""150 connections that hold the listener without finishing a request (idle, sending headers a
byte at a time, or a slow body) leave callbacks, Slack requests and /healthz answered within a
second; a request still unfinished after its deadline, and an idle connection after its idle
timeout, are closed (issue 16, case 1). Real sockets over loopback: the whole app for the flood,
the HTTP listener alone (with an injected clock) for the deadlines."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from typing import Any

import pytest
import requests

from bot.serve import HttpServer, ListenerLimits
from tests.hardening.support import (
    FORM,
    InboundHarness,
    form,
    slash_command,
    status_params,
    wait_for,
)

FLOOD = 150  # 50 of each kind: more than waitress's default connection limit (100)
SLOW_HEADERS = b"POST /clickatell/status HTTP/1.1\r\nHost: x\r\nX-Slow: "
SLOW_BODY = (
    b"POST /clickatell/status HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\n\r\napi_id=san"
)


def _attacker(url: str, first: bytes) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=5)
    if first:
        sock.sendall(first)
    return sock


@contextmanager
def _flood(url: str, count: int = FLOOD) -> Iterator[list[socket.socket]]:
    kinds = [b"", SLOW_HEADERS, SLOW_BODY]
    with ExitStack() as stack:
        socks = [stack.enter_context(_attacker(url, kinds[i % 3])) for i in range(count)]
        yield socks


def _timed(call: Any) -> tuple[float, Any]:
    started = time.monotonic()
    result = call()
    return time.monotonic() - started, result


def test_a_flood_of_unfinished_connections_leaves_every_path_answered(
    app: InboundHarness,
) -> None:
    auth = app.callback_auth
    with _flood(app.url) as socks:
        # A byte more from each slow one, as a slowloris would send to stay alive.
        for sock in socks[1::3] + socks[2::3]:
            sock.sendall(b"x")
        took, health = _timed(lambda: requests.get(app.url + "/healthz", timeout=1))
        assert health.status_code == 200 and took < 1.0, took
        report = form(status_params("flood-1", "004"))
        took, stored = _timed(
            lambda: requests.post(
                app.url + "/clickatell/status", data=report, headers=FORM, auth=auth, timeout=1
            )
        )
        assert stored.status_code == 200 and took < 1.0, took
        request = slash_command("help", response_url=app.fake.response_url("help"))
        took, acked = _timed(lambda: app.post(request))
        assert acked.status_code == 200 and took < 1.0, took


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _hello(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]


@pytest.fixture
def listener() -> Iterator[tuple[HttpServer, _Clock]]:
    clock = _Clock()
    limits = ListenerLimits(request_deadline=10.0, idle_timeout=30.0, clock=clock)
    server = HttpServer("127.0.0.1", 0, threads=2, limits=limits)
    server.serve(_hello)
    try:
        yield server, clock
    finally:
        server.stop()


def _closed(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def test_unfinished_requests_are_closed_at_their_deadline_and_idle_ones_later(
    listener: tuple[HttpServer, _Clock],
) -> None:
    server, clock = listener
    with ExitStack() as stack:
        idle = stack.enter_context(_attacker(server.url, b""))
        slow_headers = stack.enter_context(_attacker(server.url, SLOW_HEADERS))
        slow_body = stack.enter_context(_attacker(server.url, SLOW_BODY))
        kept_alive = requests.Session()
        stack.callback(kept_alive.close)
        assert kept_alive.get(server.url + "/").status_code == 200
        time.sleep(0.05)  # let the listener register the three (no timeout is slept through)
        clock.now += 9.0
        with suppress(OSError):
            slow_headers.sendall(b"a")  # activity does not extend a request's deadline
        clock.now += 2.0
        wait_for(lambda: _closed(slow_headers) and _closed(slow_body), what="the slow ones closed")
        assert not _closed(idle)
        clock.now += 20.0
        wait_for(lambda: _closed(idle), what="the idle connection closed")
        assert requests.get(server.url + "/", timeout=2).status_code == 200
