"""A gateway reply is read up to 1 MiB (about 100 times any real reply) and no further: a larger
one fails clearly, as a garbled reply, instead of being read whole into memory and parsed
(issue 16, case 9). Over real HTTP against a gateway stand-in that streams the reply."""

from __future__ import annotations

import socket
import tracemalloc
from collections.abc import Callable

import pytest

from bot.gateway.base import GatewayError
from bot.gateway.clickatell_http.client import ClickatellClient
from tests.hardening.rawgateway import Handler, RawGateway
from tests.hardening.support import InboundHarness, answer, command, real_gateway_env

MIB = 1 << 20
HUGE = 64 * MIB
BLOCK = b" " * 65536


def streamed(first: bytes, size: int, gateway: RawGateway, *, announce: bool) -> Handler:
    """A reply of `size` bytes: `first`, then spaces, written 64 KiB at a time until the client
    stops reading; with `announce`, its length is in Content-Length, else it ends at close."""

    def answer(sock: socket.socket) -> None:
        length = f"Content-Length: {size}\r\n" if announce else "Connection: close\r\n"
        sock.sendall(f"HTTP/1.1 200 OK\r\n{length}\r\n".encode() + first)
        left = size - len(first)
        while left > 0:
            block = BLOCK[: min(left, len(BLOCK))]
            sock.sendall(block)
            gateway.count_sent(len(block))
            left -= len(block)
        sock.shutdown(socket.SHUT_WR)  # the end of a reply without Content-Length

    return answer


@pytest.fixture
def gateway() -> RawGateway:
    with RawGateway() as stand_in:
        yield stand_in


def _client(gateway: RawGateway) -> ClickatellClient:
    return ClickatellClient(gateway.url, "3456789", "team", "password", timeout=10)


def _peak_while(call: Callable[[], object]) -> tuple[int, BaseException | None]:
    tracemalloc.start()
    try:
        call()
        raised = None
    except BaseException as error:  # returned for the test to judge
        raised = error
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak, raised


@pytest.mark.parametrize("announce", [False, True], ids=["until-close", "content-length"])
def test_a_huge_reply_fails_clearly_and_is_not_read_whole(
    gateway: RawGateway, announce: bool
) -> None:
    gateway.on("getbalance", streamed(b"Credit: 12.5\n", HUGE, gateway, announce=announce))
    with _client(gateway) as client:
        peak, raised = _peak_while(client.balance)
    assert isinstance(raised, GatewayError), f"parsed as a success: {raised!r}"
    assert "1 MiB" in raised.description
    assert peak < 8 * MIB, f"{peak / MIB:.1f} MiB allocated while reading the reply"
    assert gateway.sent_bytes < HUGE // 2


def test_a_reply_of_exactly_1_mib_is_read(gateway: RawGateway) -> None:
    gateway.on("getbalance", streamed(b"Credit: 12.5\n", MIB, gateway, announce=True))
    with _client(gateway) as client:
        assert client.balance() == 12.5


def test_balance_in_slack_says_the_reply_was_too_large(
    gateway: RawGateway, make_app: Callable[..., InboundHarness]
) -> None:
    gateway.on("getbalance", streamed(b"Credit: 12.5\n", HUGE, gateway, announce=False))
    app = make_app(**real_gateway_env(gateway.url))
    command(app, "balance", "balance")
    text = answer(app, "balance", timeout=30)
    assert "1 MiB" in text, text
    assert "12.5" not in text
