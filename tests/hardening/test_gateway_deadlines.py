"""A gateway call has one deadline for all of it, however slowly the reply trickles in; no lock
is held across the network, so nobody waits behind a trickled `auth` longer than its deadline;
and commands that need no gateway never queue behind gateway work (issue 16, case 6). Over real
HTTP against a gateway stand-in that writes its replies a byte at a time; the deadlines run on
an injected clock, so no test waits for one to pass."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bot.gateway.base import GatewayError
from bot.gateway.clickatell_http.client import ClickatellClient
from bot.gateway.http_deadline import Deadlines
from tests.hardening.rawgateway import SESSION_ID, Handler, RawGateway, whole
from tests.hardening.support import InboundHarness, answer, command, real_gateway_env, wait_for

TIMEOUT = 10.0


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def trickled(gateway: RawGateway, reply: bytes, *, in_headers: bool) -> Handler:
    """The reply a byte every 20 ms (after the status line, or after the headers), until the
    connection is cut or the stand-in closes."""

    def answer(sock: socket.socket) -> None:
        head = b"HTTP/1.1 200 OK\r\n"
        rest = b"X-Slow: " + b"a" * 10_000 + b"\r\n\r\n" if in_headers else b""
        if not in_headers:
            head += b"Content-Length: %d\r\n\r\n" % (len(reply) + 10_000)
            rest = reply + b" " * 10_000
        sock.sendall(head)
        for byte in rest:
            if gateway.release.wait(0.02):
                return
            sock.sendall(bytes([byte]))
            gateway.count_sent(1)

    return answer


@pytest.fixture
def gateway() -> Iterator[RawGateway]:
    with RawGateway() as stand_in:
        yield stand_in


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(gateway: RawGateway, clock: Clock) -> Iterator[ClickatellClient]:
    deadlines = Deadlines(clock)
    with ClickatellClient(
        gateway.url, "3456789", "team", "password", timeout=TIMEOUT, deadlines=deadlines
    ) as made:
        made.deadlines = deadlines  # type: ignore[attr-defined]
        yield made


class Call:
    """A client call on a thread of its own; `outcome()` waits (boundedly) for its end."""

    def __init__(self, call: Callable[[], Any]):
        self.result: Any = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(call,), daemon=True)
        self._thread.start()

    def _run(self, call: Callable[[], Any]) -> None:
        try:
            self.result = call()
        except BaseException as error:  # judged by the test
            self.error = error

    def ended(self) -> bool:
        return not self._thread.is_alive()

    def outcome(self, within: float = 5.0) -> BaseException | None:
        self._thread.join(within)
        assert self.ended(), f"still running {within} s after its deadline passed"
        return self.error


def _past_the_deadline(clock: Clock, client: ClickatellClient) -> None:
    clock.now += TIMEOUT + 0.5
    client.deadlines.poke()  # type: ignore[attr-defined]


@pytest.mark.parametrize("in_headers", [False, True], ids=["body", "headers"])
def test_a_trickled_reply_ends_at_the_deadline(
    gateway: RawGateway, clock: Clock, client: ClickatellClient, in_headers: bool
) -> None:
    gateway.on("getbalance", trickled(gateway, b"Credit: 12.5", in_headers=in_headers))
    call = Call(client.balance)
    wait_for(lambda: gateway.sent_bytes >= 5, what="the reply to start trickling")
    assert not call.ended()
    _past_the_deadline(clock, client)
    error = call.outcome()
    assert isinstance(error, GatewayError), error
    assert f"no complete reply within {TIMEOUT:g} seconds" in error.description


def test_nobody_waits_behind_a_trickled_auth_longer_than_its_deadline(
    gateway: RawGateway, clock: Clock, client: ClickatellClient
) -> None:
    gateway.on("auth", trickled(gateway, f"OK: {SESSION_ID}".encode(), in_headers=False))
    first = Call(client.balance)
    wait_for(lambda: gateway.sent_bytes >= 2, what="auth to start trickling")
    others = [Call(client.balance), Call(lambda: client.query("abc123"))]
    _past_the_deadline(clock, client)
    for call in (first, *others):
        assert isinstance(call.outcome(), GatewayError)
    assert gateway.commands.count("auth") == 1  # they waited for the one in flight


def test_a_reply_within_the_deadline_is_read(
    gateway: RawGateway, clock: Clock, client: ClickatellClient
) -> None:
    client.auth()
    gateway.on("getbalance", whole(b"Credit: 7"))
    clock.now += TIMEOUT * 100  # time passing between calls cuts nothing
    client.deadlines.poke()  # type: ignore[attr-defined]
    assert client.balance() == 7.0


# --------------------------------------------------------------------------- the app


SENDS = 40  # more than the work pool's 32 threads


def held_send(hold: threading.Event) -> Handler:
    """sendmsg answered only once `hold` is set (a gateway that stopped answering)."""

    def answer(sock: socket.socket) -> None:
        hold.wait(60)
        body = b"ID: 0123456789abcdef0123456789abcdef"
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)

    return answer


def test_commands_that_need_no_gateway_answer_while_sends_fill_the_pool(
    gateway: RawGateway, make_app: Callable[..., InboundHarness]
) -> None:
    hold = threading.Event()
    gateway.on("sendmsg", held_send(hold))
    app = make_app(**real_gateway_env(gateway.url), CLICKATELL_TIMEOUT="60")
    try:
        for index in range(SENDS):
            command(app, f"send 2782123{index:04d} hello", f"send{index}")
        wait_for(
            lambda: gateway.commands.count("sendmsg") >= 32, what="the work pool full of sends"
        )
        started = time.monotonic()
        command(app, "help", "help")
        command(app, "contacts", "contacts")
        assert "/sms send" in answer(app, "help", timeout=3)
        assert answer(app, "contacts", timeout=3)
        assert time.monotonic() - started < 3
    finally:
        hold.set()
    wait_for(lambda: gateway.commands.count("sendmsg") == SENDS, timeout=30, what="every send")
