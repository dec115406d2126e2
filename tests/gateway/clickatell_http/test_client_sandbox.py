"""ClickatellClient against the sandbox over real HTTP (and through a fault-injecting proxy)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests
from requests.adapters import HTTPAdapter

from bot.gateway.base import GatewayError
from bot.gateway.clickatell_http.chunks import MAX_RECIPIENTS
from bot.gateway.clickatell_http.client import ClickatellClient
from bot.gateway.clickatell_http.sandbox import NUMBER_UNROUTABLE, SandboxServer
from bot.sms.encoding import TextTooLong
from bot.testing.gateway import Reply, ScriptedGateway

PHONE = "27821234567"
START = 1_750_000_000.0


class CountingAdapter(HTTPAdapter):
    """Records (path, body) of every request sent through the Session it is mounted on."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()

    def send(self, request, *args, **kwargs):  # type: ignore[override]
        with self._lock:
            self.sent.append((request.path_url, request.body or b""))
        return super().send(request, *args, **kwargs)

    def paths(self, command: str) -> list[bytes]:
        return [body for path, body in self.sent if path.rstrip("/").endswith(command)]


class CountingSession(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self.counter = CountingAdapter()
        self.mount("http://", self.counter)

    @property
    def sent(self) -> list[tuple[str, bytes]]:
        return self.counter.sent

    def paths(self, command: str) -> list[bytes]:
        return self.counter.paths(command)


class Clock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sandbox(clock) -> Iterator[SandboxServer]:
    with SandboxServer(clock=clock, autorun=False, balance=50_000.0) as server:
        yield server


@pytest.fixture
def http() -> Iterator[CountingSession]:
    with CountingSession() as session:
        yield session


def _no_wait(seconds: float) -> None:
    pass


def make_client(url: str, http: requests.Session, **kwargs) -> ClickatellClient:
    # Waits (901 backoff, letting a silent gateway finish) are recorded, never slept.
    options = {"timeout": 5.0, "clock": lambda: 0.0, "wallclock": lambda: START, "sleep": _no_wait}
    options.update(kwargs)
    return ClickatellClient(url, "3456", "user", "secret", session=http, **options)


@pytest.fixture
def client(sandbox, http) -> ClickatellClient:
    return make_client(sandbox.url, http)


def test_session_reused_for_many_calls(sandbox, http, client):
    for _ in range(5):
        client.balance()
    for index in range(5):
        client.send(PHONE, f"message {index}")
    assert len(http.paths("auth")) == 1
    assert len(sandbox.messages()) == 5


def test_expired_session_reauthenticates_once_under_8_threads(sandbox, http, client):
    client.balance()
    sandbox.advance(901)  # the gateway forgets the idle session; the client's clock stands still
    results: list[float] = []
    errors: list[BaseException] = []

    def call() -> None:
        try:
            results.append(client.balance())
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert errors == []
    assert len(results) == 8
    assert len(http.paths("auth")) == 2


def test_901_retried_through_a_proxy(sandbox, http):
    sleeps: list[float] = []
    with ScriptedGateway(upstream=sandbox.url) as proxy:
        proxy.on("getbalance", "ERR: 901, Internal error")
        client = make_client(proxy.url, http, sleep=sleeps.append)
        assert client.balance() == 50_000.0
    assert sleeps == [0.5]
    assert len(proxy.calls("getbalance")) == 2


def test_timeout_then_querymsg_by_climsgid_never_sends_twice(sandbox, http):
    released = threading.Event()
    calls = []

    def hold_first_reply(seconds: float) -> None:
        calls.append(seconds)
        if len(calls) == 1:
            released.wait(10)  # the sendmsg reply arrives only after the client gave up

    client = make_client(sandbox.url, http, timeout=0.3)
    client.auth()
    sandbox.sleep = hold_first_reply
    sandbox.reply_delay = 1.0
    try:
        result = client.send(PHONE, "only once", climsgid="idem1")
    finally:
        released.set()
    sent = [m for m in sandbox.messages() if m.to == PHONE]
    assert len(sent) == 1
    assert len(http.paths("sendmsg")) == 1
    [query] = http.paths("querymsg")
    assert query.endswith(b"&climsgid=idem1")
    assert result.messages[0].apimsgid == sent[0].apimsgid


def test_104_means_never_received_so_it_is_resent(sandbox, http):
    with ScriptedGateway(upstream=sandbox.url) as proxy:
        proxy.on("sendmsg", Reply(drop=True))  # lost before reaching the gateway
        client = make_client(proxy.url, http)
        result = client.send(PHONE, "lost then sent", climsgid="resend1")
        assert len(proxy.calls("sendmsg")) == 2
        assert len(proxy.calls("querymsg")) == 1
    [message] = sandbox.messages()
    assert message.climsgid == "resend1"
    assert result.messages[0].apimsgid == message.apimsgid


def test_10000_recipients_in_34_posts_in_order(sandbox, http, client):
    recipients = [f"2782{1000000 + i:07d}" for i in range(10_000)]
    result = client.send(recipients, "Bulk hello")
    posts = http.paths("sendmsg")
    assert len(posts) == 34
    for body in posts:
        to = next(p for p in body.split(b"&") if p.startswith(b"to="))
        assert b"%2C" not in to
        assert to.count(b",") <= MAX_RECIPIENTS - 1
    assert [m.to for m in result.messages] == recipients
    by_number = {m.to: m.apimsgid for m in sandbox.messages()}
    assert len(by_number) == 10_000
    assert all(m.apimsgid == by_number[m.to] and m.error is None for m in result.messages)
    assert len({m.climsgid for m in result.messages}) == 34


def test_unicode_hex_on_the_wire_and_decoded_by_the_gateway(sandbox, http, client):
    client.send(PHONE, "Привет ΩΨ")
    [message] = sandbox.messages()
    assert message.text == "Привет ΩΨ" and message.unicode
    assert b"text=041F0440043804320435044200200" in http.paths("sendmsg")[0]


def test_latin1_bytes_on_the_wire(sandbox, http, client):
    client.send(PHONE, "Bär")
    [message] = sandbox.messages()
    assert message.text == "Bär" and not message.unicode
    assert b"text=B%E4r&" in http.paths("sendmsg")[0]


def test_text_too_long_makes_no_call(sandbox, http, client):
    with pytest.raises(TextTooLong):
        client.send(PHONE, "€" * 300)
    assert http.sent == []


def test_unroutable_recipient_error_and_others_sent(sandbox, client):
    result = client.send([PHONE, NUMBER_UNROUTABLE], "hi")
    assert result.messages[0].apimsgid and result.messages[0].error is None
    assert result.messages[1].error.code == "114"


def test_status_charge_cancel_balance_coverage_redeem(sandbox, client):
    sent = client.send(PHONE, "hello").messages[0]
    sandbox.advance(5)
    assert client.query(sent.apimsgid).status == "004"
    assert client.query(climsgid=sent.climsgid).apimsgid == sent.apimsgid
    charge = client.charge(sent.apimsgid)
    assert charge.charge > 0 and charge.status == "004"
    later = datetime.fromtimestamp(START, UTC) + timedelta(days=1)
    scheduled = client.send(PHONE, "later", scheduled_time=later).messages[0]
    assert client.cancel(scheduled.apimsgid).status == "006"
    before = client.balance()
    assert client.redeem("1234567812345678").code == "605"
    assert client.balance() > before
    assert client.coverage(PHONE).routable
    assert not client.coverage(NUMBER_UNROUTABLE).routable
    with pytest.raises(GatewayError) as caught:
        client.query("ffffffffffffffffffffffffffffffff")
    assert caught.value.code == "103"


def test_batch_against_the_sandbox(sandbox, client):
    batch = client.start_batch("Hi #field1#")
    client.send_item(batch, PHONE, {"field1": "Ann"})
    results = client.quicksend(batch, ["27821000001", "27821000002"])
    assert [r.to for r in results] == ["27821000001", "27821000002"]
    client.end_batch(batch)
    texts = sorted(m.text for m in sandbox.messages())
    assert texts[-1] == "Hi Ann"
    assert len(texts) == 3


def test_ping(sandbox, http, client):
    client.ping()
    assert len(http.paths("ping")) == 1
