"""The Portal client has the legacy client's limits (issue 16, cases 6 and 9): one deadline for a
whole request, however slowly the answer trickles in, and an answer read no further than 1 MiB.
Over real HTTP against the same gateway stand-in; the deadline runs on an injected clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.gateway.base import GatewayError
from bot.gateway.clickatell_platform.transport import Transport
from bot.gateway.http_deadline import Deadlines
from tests.hardening.rawgateway import RawGateway, whole
from tests.hardening.support import wait_for
from tests.hardening.test_gateway_deadlines import TIMEOUT, Call, Clock, trickled
from tests.hardening.test_gateway_reply_size import HUGE, streamed

BALANCE = b'{"balance": 12.5, "currency": "ZAR"}'


@pytest.fixture
def gateway() -> Iterator[RawGateway]:
    with RawGateway() as stand_in:
        yield stand_in


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def deadlines(clock: Clock) -> Deadlines:
    return Deadlines(clock)


@pytest.fixture
def transport(gateway: RawGateway, deadlines: Deadlines) -> Iterator[Transport]:
    made = Transport(gateway.url, TIMEOUT, authorization="KEY", deadlines=deadlines)
    yield made
    made.close()


def test_a_trickled_answer_ends_at_the_deadline(
    gateway: RawGateway, clock: Clock, deadlines: Deadlines, transport: Transport
) -> None:
    gateway.on("balance", trickled(gateway, BALANCE, in_headers=False))
    call = Call(lambda: transport.call("GET", "/v1/balance"))
    wait_for(lambda: gateway.sent_bytes >= 5, what="the answer to start trickling")
    assert not call.ended()
    clock.now += TIMEOUT + 0.5
    deadlines.poke()
    error = call.outcome()
    assert isinstance(error, GatewayError), error
    assert f"no complete answer within {TIMEOUT:g} seconds" in error.description


@pytest.mark.parametrize("announce", [False, True], ids=["until-close", "content-length"])
def test_a_huge_answer_is_refused_unread(
    gateway: RawGateway, transport: Transport, announce: bool
) -> None:
    gateway.on("balance", streamed(BALANCE, HUGE, gateway, announce=announce))
    with pytest.raises(GatewayError, match="1 MiB"):
        transport.call("GET", "/v1/balance")
    assert gateway.sent_bytes < HUGE // 2


def test_an_answer_within_the_limits_is_read(gateway: RawGateway, transport: Transport) -> None:
    gateway.on("balance", whole(BALANCE))
    assert transport.call("GET", "/v1/balance").body == BALANCE
