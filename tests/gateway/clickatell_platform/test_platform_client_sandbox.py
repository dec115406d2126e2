"""The Portal gateway against the sandbox in Platform mode over loopback, for each integration
type: splitting into calls of at most 200, the rate limit backed off on the sandbox's own clock,
the magic numbers, refused keys, the balance and part counting before any call."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from bot.domain.delivery import DeliveryState
from bot.gateway.base import OptedOut
from bot.gateway.clickatell_http.sandbox import (
    NUMBER_NEVER_REPORTS,
    NUMBER_OPTED_OUT_AT_GATEWAY,
    NUMBER_STAYS_AT_GATEWAY,
    NUMBER_UNROUTABLE,
    SandboxServer,
)
from bot.gateway.clickatell_platform.client import KeyRefused, PlatformClient
from bot.gateway.clickatell_platform.gateway import ClickatellPlatformGateway
from bot.gateway.clickatell_platform.integrations import BY_NAME, IntegrationName
from bot.sms.encoding import TextTooLong
from bot.testing.clocks import ManualClock
from bot.testing.gateway import ScriptedGateway

KEY = "loopback-key"
INTEGRATIONS: list[IntegrationName] = ["one", "rest", "http"]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sandbox(clock: ManualClock) -> Iterator[SandboxServer]:
    with SandboxServer(api_key=KEY, clock=clock, autorun=False, balance=10_000) as server:
        yield server


@pytest.fixture
def recorder(sandbox: SandboxServer) -> Iterator[ScriptedGateway]:
    with ScriptedGateway(upstream=sandbox.url) as proxy:
        yield proxy


def gateway_for(
    url: str, integration: IntegrationName, *, key: str = KEY, sleep=lambda s: None, **kw
) -> ClickatellPlatformGateway:
    client = PlatformClient(url, key, BY_NAME[integration], timeout=5, sleep=sleep)
    return ClickatellPlatformGateway(client, **kw)


def numbers(count: int) -> list[str]:
    return [f"2782{n:07d}" for n in range(1, count + 1)]


@pytest.mark.parametrize(("integration", "calls"), [("one", 3), ("rest", 3)])
def test_500_recipients_go_in_calls_of_at_most_200(recorder, sandbox, integration, calls):
    gateway = gateway_for(recorder.url, integration)
    planned = gateway.plan(numbers(500))
    result = gateway.send(planned, "Hello all")
    assert [m.to for m in result.messages] == numbers(500)
    assert all(m.message_id and m.error is None for m in result.messages)
    sizes = [
        len(body["messages"]) if integration == "one" else len(body["to"])
        for body in (json.loads(r.body) for r in recorder.requests)
    ]
    assert sizes == [200, 200, 100] and len(recorder.requests) == calls
    if integration == "rest":  # one client ID per request, each recipient's climsgid
        ids = [json.loads(r.body)["clientMessageId"] for r in recorder.requests]
        assert len(set(ids)) == 3
        assert {m.client_id for m in result.messages} == set(ids)
    else:  # one per recipient
        assert len({m.client_id for m in result.messages}) == 500
    assert len(sandbox.messages()) == 500


def test_sms_http_makes_one_call_per_recipient(recorder):
    gateway = gateway_for(recorder.url, "http")
    result = gateway.send(gateway.plan(numbers(3)), "Hi")
    assert len(recorder.requests) == 3 and all(m.message_id for m in result.messages)


@pytest.mark.parametrize("integration", INTEGRATIONS)
def test_the_magic_numbers_through_the_client(sandbox, integration):
    gateway = gateway_for(sandbox.url, integration)
    wanted = [NUMBER_UNROUTABLE, NUMBER_OPTED_OUT_AT_GATEWAY, NUMBER_NEVER_REPORTS]
    unroutable, opted, silent = gateway.send(gateway.plan(wanted), "Hi").messages
    assert unroutable.message_id is None and unroutable.error is not None
    assert unroutable.error.code == ("25" if integration == "one" else "105")
    assert isinstance(opted.error, OptedOut)
    assert silent.message_id and silent.error is None


def test_the_one_api_query_follows_the_sandbox_clock(sandbox):
    gateway = gateway_for(sandbox.url, "one")
    stays, silent = gateway.send(
        gateway.plan([NUMBER_STAYS_AT_GATEWAY, NUMBER_NEVER_REPORTS]), "Hi"
    ).messages
    sandbox.advance(5)
    assert gateway.query(stays.message_id).status.state is DeliveryState.SENT
    assert gateway.query(silent.message_id).status.state is DeliveryState.UNKNOWN


@pytest.mark.parametrize("integration", INTEGRATIONS)
def test_a_wrong_key_is_refused_before_anything_is_sent(sandbox, integration):
    gateway = gateway_for(sandbox.url, integration, key="wrong")
    with pytest.raises(KeyRefused):
        gateway.send(gateway.plan(numbers(2)), "Hi")
    with pytest.raises(KeyRefused):
        gateway.balance()
    assert sandbox.messages() == []


def test_the_rate_limit_is_backed_off_and_only_the_refused_are_sent_again(clock):
    waited: list[float] = []

    def sleep(seconds: float) -> None:  # the client's wait moves the sandbox's clock
        waited.append(seconds)
        clock.now += seconds

    with SandboxServer(
        api_key=KEY, clock=clock, autorun=False, rate_limit=150, balance=1000
    ) as limited:
        gateway = gateway_for(limited.url, "one", sleep=sleep)
        result = gateway.send(gateway.plan(numbers(200)), "Hi")
        assert all(m.message_id for m in result.messages)
        assert len(limited.messages()) == 200  # nobody twice
    assert len(waited) == 1


def test_text_over_the_part_limit_is_refused_before_any_call(recorder):
    gateway = gateway_for(recorder.url, "one", max_parts=1)
    with pytest.raises(TextTooLong):
        gateway.send(gateway.plan(numbers(1)), "x" * 161)
    unicode = gateway_for(recorder.url, "one", max_parts=2)
    with pytest.raises(TextTooLong):
        unicode.send(unicode.plan(numbers(1)), "Ω" * 135)
    assert recorder.requests == []


def test_scheduling_is_refused_by_the_adapter_without_a_call(recorder):
    from datetime import UTC, datetime

    from bot.gateway.base import Unsupported

    gateway = gateway_for(recorder.url, "one")
    with pytest.raises(Unsupported):
        gateway.send(gateway.plan(numbers(1)), "Hi", at=datetime(2030, 1, 1, tzinfo=UTC))
    assert recorder.requests == []
