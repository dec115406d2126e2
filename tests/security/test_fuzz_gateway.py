"""Property: whatever a gateway answers — any bytes, near-miss protocol lines, HTTP errors — the
client returns a typed result or raises a GatewayError (never anything else), and a slash
command facing such a gateway answers the person with a clear message (never the "something
went wrong" of an unexpected exception, never an error in the log).

Both run over loopback against `ScriptedGateway`, a real HTTP server answering from a script."""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.gateway.base import Coverage, GatewayError, Redeemed
from bot.gateway.clickatell_http.client import ClickatellClient
from bot.gateway.clickatell_http.types import MessageCharge, MessageStatus, SendResult
from bot.sms.refusals import Refused
from bot.testing.app import QUIET, RunningApp
from bot.testing.gateway import SESSION_ID, Reply, Request, ScriptedGateway
from bot.testing.signing import slash_command
from bot.testing.slack import FakeSlack
from bot.testing.waiting import wait_for
from tests.security.support import ErrorLog

NUMBER = "27821234567"
OTHER = "27821234568"

# Near misses of every reply shape (§3), to mix with arbitrary bytes.
FRAGMENTS = [
    "OK:", "OK", "OK: ", "ID:", "ID: ", "To:", "Status:", "status:", "charge:", "Credit:",
    "apiMsgId:", "ERR:", "ERR: ", "ERR: 001", "ERR: 003, Session ID expired", "ERR: 901,",
    "ERR: 114, Cannot route message", "ERR: 1234, x", "ERR: , ", "ERR:,", "Charge:",
    "abc123", "0123456789abcdef0123456789abcdef", NUMBER, OTHER, "004", "4", "-1", "nan", "inf",
    "1e999", "0.300000", "605", "This prefix is currently supported.", " ", "  ", ",", ":", "\r",
    "\n", "\r\n", "\x00", "é", "€", "\ufffd", "<html>", "Status: 004 ID: x", "To: ",
]  # fmt: skip

line = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=6), max_size=8).map("".join)
body = st.one_of(
    st.binary(max_size=200),
    st.lists(line, max_size=4).map(lambda lines: "\n".join(lines).encode("utf-8")),
    st.sampled_from(
        [b"", b"\n", b"ID: " + b"a" * 5000, b"OK: " + b"f" * 31, b"Credit: 1" + b"0" * 400]
    ),
)
status = st.sampled_from([200] * 8 + [201, 204, 301, 400, 401, 404, 500, 502, 503])


@dataclass(frozen=True)
class Answer:
    body: bytes
    status: int
    auth_ok: bool  # a valid `auth` reply, so the command itself faces the fuzzed reply

    def reply(self, request: Request) -> Reply:
        if request.command == "auth" and self.auth_ok:
            return Reply(f"OK: {SESSION_ID}")
        return Reply(self.body, status=self.status)


answers = st.builds(Answer, body, status, st.booleans())


class Script:
    """The scripted gateway's current answer (one server for the whole module)."""

    def __init__(self) -> None:
        self.answer = Answer(b"", 200, True)

    def __call__(self, request: Request) -> Reply:
        return self.answer.reply(request)


@pytest.fixture(scope="module")
def gateway() -> Iterator[tuple[ScriptedGateway, Script]]:
    script = Script()
    # quiet: a client dropping a connection whose reply it did not want (204 with a body) is noise
    with ScriptedGateway(script, quiet=True) as server:
        yield server, script


# --------------------------------------------------------------------------- the client


def _calls(client: ClickatellClient) -> dict[str, tuple[Callable[[], Any], type | tuple]]:
    """Every command of the client, and what it must return."""
    return {
        "auth": (client.auth, str),
        "ping": (client.ping, type(None)),
        "send one": (lambda: client.send(NUMBER, "hi"), SendResult),
        "send many": (lambda: client.send([NUMBER, OTHER], "hi"), SendResult),
        "query": (lambda: client.query("abc123"), MessageStatus),
        "query climsgid": (lambda: client.query(climsgid="c1"), MessageStatus),
        "cancel": (lambda: client.cancel("abc123"), MessageStatus),
        "charge": (lambda: client.charge("abc123"), MessageCharge),
        "balance": (client.balance, float),
        "coverage": (lambda: client.coverage(NUMBER), Coverage),
        "redeem": (lambda: client.redeem("1234567890123456"), Redeemed),
        "start batch": (lambda: client.start_batch("Hi #field1#"), str),
        "send item": (lambda: client.send_item("b1", NUMBER, {"field1": "Al"}), str),
        "quicksend": (lambda: client.quicksend("b1", [NUMBER, OTHER]), tuple),
        "end batch": (lambda: client.end_batch("b1"), type(None)),
    }


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answer=answers)
def test_client_raises_only_gateway_errors(
    gateway: tuple[ScriptedGateway, Script], answer: Answer
) -> None:
    server, script = gateway
    script.answer = answer
    client = ClickatellClient(server.url, "1", "u", "p", timeout=5, sleep=lambda _s: None)
    try:
        for name, (call, expected) in _calls(client).items():
            try:
                result = call()
            except GatewayError as error:
                assert isinstance(error.explanation, str) and error.explanation.strip(), name
                continue
            except Refused as refusal:  # raised before any call: never because of a reply
                raise AssertionError(f"{name}: refused after a reply: {refusal}") from None
            assert isinstance(result, expected), (name, result)
    finally:
        client.close()


# --------------------------------------------------------------------------- slash commands

COMMANDS = [
    "balance", "ping", f"status {'a' * 32}", "status c1", f"cancel {'a' * 32}",
    f"charge {'a' * 32}", f"coverage {NUMBER}", "redeem 1234567890123456", f"send {NUMBER} hi",
    f"send {NUMBER},{OTHER} hi", f"send --at +1h {NUMBER} later",
]  # fmt: skip
ADMIN = "U0ADMIN"
_triggers = itertools.count(1)


@pytest.fixture(scope="module")
def app_facing_gateway(
    gateway: tuple[ScriptedGateway, Script], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningApp, Script]]:
    server, script = gateway
    with FakeSlack() as fake:
        env = {
            "CLICKATELL_API_ID": "12345",
            "CLICKATELL_USER": "acme",
            "CLICKATELL_PASSWORD": "gateway-password",
            "CLICKATELL_BASE_URL": server.url,
            "CLICKATELL_CALLBACK_PASSWORD": "callback-password",
            "CLICKATELL_TIMEOUT": "5",
            "SMS_ADMINS": ADMIN,
        }
        directory = tmp_path_factory.mktemp("fuzz-gateway")
        harness = RunningApp(fake, directory, dataclasses.replace(QUIET, env=env))
        try:
            yield harness, script
        finally:
            harness.stop()


def _finished(app: RunningApp, trigger: str) -> list[dict[str, Any]] | bool:
    """The command's ephemeral answers, or True for a send that went out with nothing to say."""
    answers = [
        c.params for c in app.fake.calls_to("response_url") if c.path.endswith("/" + trigger)
    ]
    if answers:
        return answers
    send = app.storage.sends.by_intent(f"slash:{trigger}")
    return bool(
        send is not None
        and send.card_ts
        and all((r.apimsgid or r.status) and not r.error_code for r in send.recipients)
    )


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answer=answers, command=st.sampled_from(COMMANDS))
def test_slash_command_facing_any_reply_answers_clearly(
    app_facing_gateway: tuple[RunningApp, Script], answer: Answer, command: str
) -> None:
    app, script = app_facing_gateway
    script.answer = answer
    trigger = f"gw{next(_triggers)}"
    request = slash_command(
        command, user_id=ADMIN, trigger_id=trigger, response_url=app.fake.response_url(trigger)
    )
    with ErrorLog().installed() as errors:
        assert app.post(request).status_code == 200
        found = wait_for(lambda: _finished(app, trigger), what=f"the answer to /sms {command}")
        errors.assert_clean(f"/sms {command} facing {answer}")
    for params in found if isinstance(found, list) else []:
        text = str(params.get("text") or "")
        assert text.strip() and "Something went wrong on our side" not in text, params
        assert "Traceback" not in json.dumps(params)
