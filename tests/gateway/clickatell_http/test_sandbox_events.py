"""The sandbox over time: statuses that move, magic numbers, scheduled messages, status and MO
callbacks (basic auth, retries, charsets, GMT+2), persistence, and running as a program."""

from __future__ import annotations

import json
import math
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from bot.gateway.clickatell_http.callbacks import decode_mo, decode_status, parse_udh
from bot.gateway.clickatell_http.sandbox import (
    NUMBER_DELIVERY_FAILS,
    NUMBER_ECHOES,
    NUMBER_OPTS_OUT,
    NUMBER_REPLIES_UNICODE,
    NUMBER_STAYS_AT_GATEWAY,
    SANDBOX_TWO_WAY_NUMBER,
    UNICODE_REPLY_TEXT,
    SandboxServer,
    main,
)
from bot.testing.clocks import START, ManualClock
from bot.testing.waiting import wait_for
from tests.support.sandbox_fixtures import Api, CallbackReceiver

NUMBER = "27821234567"
OTHER = "27821234568"
TWO_WAY = "27820000001"
CB_USER, CB_PASSWORD = "clickatell", "s3cret"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    server = CallbackReceiver(CB_USER, CB_PASSWORD)
    yield server
    server.close()


def make_sandbox(clock: ManualClock, receiver: CallbackReceiver, **options) -> SandboxServer:
    options = {
        "clock": clock,
        "autorun": False,
        "callback_url": receiver.url + "/status",
        "mo_url": receiver.url + "/mo",
        "callback_user": CB_USER,
        "callback_password": CB_PASSWORD,
        "api_id": "3456",
        **options,
    }
    return SandboxServer(**options)


@pytest.fixture
def sandbox(clock: ManualClock, receiver: CallbackReceiver) -> Iterator[SandboxServer]:
    with make_sandbox(clock, receiver) as server:
        yield server


@pytest.fixture
def api(sandbox: SandboxServer) -> Iterator[Api]:
    client = Api(sandbox.url)
    client.login(api_id="3456")
    yield client
    client.close()


def send(api: Api, to: str, text: str | bytes = "hello", **params: str) -> str:
    reply = api.call("sendmsg", {"to": to, "text": text, **params})
    match = re.fullmatch(r"ID: ([0-9a-f]{32})", reply)
    assert match, reply
    return match.group(1)


def status_of(api: Api, apimsgid: str) -> str:
    reply = api.call("querymsg", {"apimsgid": apimsgid})
    assert reply.startswith(f"ID: {apimsgid} Status: "), reply
    return reply[-3:]


def reported(receiver: CallbackReceiver) -> list[str]:
    return [r.text("status") for r in receiver.accepted("/status")]


# --- statuses over time -----------------------------------------------------------------------


def test_a_message_is_at_the_gateway_then_received_a_second_later(api: Api, sandbox: SandboxServer):
    apimsgid = send(api, NUMBER)
    assert status_of(api, apimsgid) == "003"
    sandbox.advance(0.5)
    assert status_of(api, apimsgid) == "003"
    sandbox.advance(0.5)
    assert status_of(api, apimsgid) == "004"


def test_magic_numbers_statuses(api: Api, sandbox: SandboxServer):
    stays = send(api, NUMBER_STAYS_AT_GATEWAY)
    expires = send(api, NUMBER_STAYS_AT_GATEWAY, validity="2")
    fails = send(api, NUMBER_DELIVERY_FAILS)
    replies = [send(api, n) for n in (NUMBER_ECHOES, NUMBER_REPLIES_UNICODE, NUMBER_OPTS_OUT)]
    sandbox.advance(1)
    assert [status_of(api, i) for i in (stays, expires, fails)] == ["003", "003", "007"]
    assert [status_of(api, i) for i in replies] == ["004"] * 3
    sandbox.advance(3600)
    api.login(api_id="3456")  # an hour idle: the session expired
    assert [status_of(api, i) for i in (stays, expires)] == ["003", "010"]


# --- status callbacks -------------------------------------------------------------------------


def test_status_callbacks_carry_every_parameter_and_basic_auth(
    api: Api, sandbox: SandboxServer, receiver: CallbackReceiver
):
    apimsgid = send(
        api, NUMBER, "x" * 200, callback="7", concat="2", climsgid="Ref42", **{"from": TWO_WAY}
    )
    sandbox.advance(1)
    first, second = receiver.accepted("/status")
    assert first.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert {k: v.decode() for k, v in first.params.items()} == {
        "api_id": "3456",
        "apiMsgId": apimsgid,
        "cliMsgId": "Ref42",
        "to": NUMBER,
        "from": TWO_WAY,
        "timestamp": str(int(START)),
        "status": "003",
        "charge": "2.000000",
    }
    assert (second.text("status"), second.text("timestamp")) == ("004", str(int(START) + 1))
    decoded = decode_status(second.params)
    assert (decoded.apimsgid, decoded.climsgid, decoded.status, decoded.charge) == (
        apimsgid,
        "Ref42",
        "004",
        2.0,
    )
    assert decoded.timestamp == datetime.fromtimestamp(START + 1, UTC)


def test_callback_without_climsgid_sends_it_empty(
    api: Api, sandbox: SandboxServer, receiver: CallbackReceiver
):
    send(api, NUMBER, callback="2")
    sandbox.advance(1)
    [callback] = receiver.accepted("/status")
    assert (callback.params["cliMsgId"], callback.params["from"]) == (b"", b"")


@pytest.mark.parametrize(
    ("level", "delivered", "failed"),
    [
        ("0", [], []),
        ("1", ["003"], ["003"]),
        ("2", ["004"], ["007"]),
        ("3", ["003", "004"], ["003", "007"]),
        ("4", [], ["007"]),
        ("5", ["003"], ["003", "007"]),
        ("6", ["004"], ["007"]),
        ("7", ["003", "004"], ["003", "007"]),
    ],
)
def test_callback_level_selects_the_statuses_reported(
    api: Api, sandbox: SandboxServer, receiver: CallbackReceiver, level, delivered, failed
):
    ok_id = send(api, NUMBER, callback=level)
    failed_id = send(api, NUMBER_DELIVERY_FAILS, callback=level)
    sandbox.advance(5)
    by_message: dict[str, list[str]] = {ok_id: [], failed_id: []}
    for callback in receiver.accepted("/status"):
        by_message[callback.text("apiMsgId")].append(callback.text("status"))
    assert by_message == {ok_id: delivered, failed_id: failed}


def test_failed_callbacks_are_retried_with_backoff(
    api: Api, sandbox: SandboxServer, receiver: CallbackReceiver
):
    receiver.fail_with = [500, 503]
    send(api, NUMBER, callback="2")
    sandbox.advance(1)
    assert [r.answered for r in receiver.requests] == [500]
    sandbox.advance(1.9)
    assert len(receiver.requests) == 1  # first retry after 2 s
    sandbox.advance(0.1)
    assert [r.answered for r in receiver.requests] == [500, 503]
    sandbox.advance(3.9)
    assert len(receiver.requests) == 2  # second retry 4 s later
    sandbox.advance(0.1)
    assert [r.answered for r in receiver.requests] == [500, 503, 200]
    bodies = {r.body for r in receiver.requests}
    assert len(bodies) == 1  # the same report each time
    attempts = [(d.attempt, d.ok, d.outcome) for d in sandbox.deliveries()]
    assert attempts == [(0, False, "HTTP 500"), (1, False, "HTTP 503"), (2, True, "HTTP 200")]
    sandbox.advance(1000)
    assert len(receiver.requests) == 3


def test_wrong_basic_credentials_count_as_failures(clock: ManualClock, receiver: CallbackReceiver):
    with make_sandbox(clock, receiver, callback_password="wrong") as sandbox:
        client = Api(sandbox.url)
        client.login(api_id="3456")
        send(client, NUMBER, callback="2")
        sandbox.advance(1)
        sandbox.advance(2)
        assert [r.answered for r in receiver.requests] == [401, 401]
        client.close()


def test_unreachable_receiver_is_retried_then_given_up(clock: ManualClock):
    closed = CallbackReceiver()
    closed.close()  # nothing listens on this port any more
    with SandboxServer(
        clock=clock, autorun=False, callback_url=closed.url + "/status", callback_timeout=2
    ) as sandbox:
        client = Api(sandbox.url)
        client.login()
        send(client, NUMBER, callback="2")
        for _ in range(12):
            sandbox.advance(3 * 24 * 3600)
        attempts = sandbox.deliveries()
        assert [d.attempt for d in attempts] == list(range(9))  # first try and 8 retries
        assert not any(d.ok for d in attempts)
        assert "ConnectionError" in attempts[0].outcome
        client.close()


# --- phones' replies (MO callbacks) -----------------------------------------------------------


def test_echo_number_replies_with_the_first_40_characters(
    api: Api, sandbox: SandboxServer, receiver: CallbackReceiver
):
    text = "Please confirm the delivery for tomorrow morning at nine"
    apimsgid = send(api, NUMBER_ECHOES, text, mo="1", **{"from": TWO_WAY})
    sandbox.advance(1.9)
    assert receiver.accepted("/mo") == []
    sandbox.advance(0.1)
    [mo] = receiver.accepted("/mo")
    assert mo.headers["Authorization"].startswith("Basic ")
    assert mo.params["charset"] == b"ISO-8859-1"
    assert mo.params["text"] == ("Got it: " + text[:40]).encode("latin-1")
    assert (mo.text("from"), mo.text("to"), mo.text("udh"), mo.text("api_id")) == (
        NUMBER_ECHOES,
        TWO_WAY,
        "",
        "3456",
    )
    # GMT+2 wall time, two seconds after sending.
    assert mo.text("timestamp") == "2023-11-15 00:13:22"
    decoded = decode_mo(mo.params)
    assert decoded.timestamp == datetime.fromtimestamp(START + 2, UTC)
    assert decoded.text == "Got it: " + text[:40]
    assert [r.apimsgid for r in sandbox.mo_messages()] == [apimsgid]


def test_echo_of_unicode_text_comes_back_as_utf16be_bytes(
    api: Api, sandbox: SandboxServer, receiver: CallbackReceiver
):
    send(api, NUMBER_ECHOES, "Привет, Ωmega 😀".encode("utf-16-be").hex(), unicode="1")
    sandbox.advance(2)
    [mo] = receiver.accepted("/mo")
    assert mo.params["charset"] == b"UTF-16BE"
    assert mo.params["text"] == "Got it: Привет, Ωmega 😀".encode("utf-16-be")
    assert b"%04%1F" in mo.body  # raw bytes percent-encoded, not a hex string
    assert decode_mo(mo.params).text == "Got it: Привет, Ωmega 😀"


def test_unicode_number_replies_in_three_parts_out_of_order(
    api: Api, sandbox: SandboxServer, receiver: CallbackReceiver
):
    send(api, NUMBER_REPLIES_UNICODE, "Tell me something long")
    sandbox.advance(2)
    parts = receiver.accepted("/mo")
    assert len(parts) == 3
    concatenations = [parse_udh(p.text("udh")) for p in parts]
    assert [c.sequence for c in concatenations if c] == [3, 1, 2]
    assert {(c.reference, c.total) for c in concatenations if c} == {
        (concatenations[0].reference, 3)  # type: ignore[union-attr]
    }
    for part in parts:
        assert re.fullmatch(r"050003[0-9A-F]{2}030[123]", part.text("udh"))
        assert part.params["charset"] == b"UTF-16BE"
        assert len(part.params["text"]) <= 67 * 2
    ordered = sorted(parts, key=lambda p: parse_udh(p.text("udh")).sequence)  # type: ignore[union-attr]
    text = b"".join(p.params["text"] for p in ordered).decode("utf-16-be")
    assert text == UNICODE_REPLY_TEXT
    assert len({p.text("moMsgId") for p in parts}) == 3


def test_opt_out_number_texts_stop_to_the_two_way_number(
    api: Api, sandbox: SandboxServer, receiver: CallbackReceiver
):
    send(api, NUMBER_OPTS_OUT, "Sale today", **{"from": "ShopName"})
    sandbox.advance(2)
    [mo] = receiver.accepted("/mo")
    assert (mo.text("text"), mo.text("from"), mo.text("to")) == (
        "STOP",
        NUMBER_OPTS_OUT,
        SANDBOX_TWO_WAY_NUMBER,
    )


def test_mo_retries_follow_their_own_schedule(
    api: Api, sandbox: SandboxServer, receiver: CallbackReceiver
):
    receiver.fail_with = [500]
    send(api, NUMBER_OPTS_OUT)
    sandbox.advance(2)
    sandbox.advance(2)
    assert [(r.path, r.answered) for r in receiver.requests] == [("/mo", 500), ("/mo", 200)]


def test_replies_are_recorded_without_an_mo_url(clock: ManualClock):
    with SandboxServer(clock=clock, autorun=False) as sandbox:
        client = Api(sandbox.url)
        client.login()
        send(client, NUMBER_OPTS_OUT)
        sandbox.advance(2)
        [record] = sandbox.mo_messages()
        assert (record.text, record.charset, record.at) == ("STOP", "ISO-8859-1", START + 2)
        assert sandbox.deliveries() == []
        client.close()


# --- scheduled and delayed messages -----------------------------------------------------------


def test_scheduled_message_is_held_then_sent(
    api: Api, sandbox: SandboxServer, receiver: CallbackReceiver
):
    apimsgid = send(api, NUMBER, callback="7", scheduled_time=str(int(START) + 3600))
    assert status_of(api, apimsgid) == "011"
    sandbox.advance(3599)
    api.login(api_id="3456")
    assert status_of(api, apimsgid) == "011"
    sandbox.advance(1)
    assert status_of(api, apimsgid) == "003"
    sandbox.advance(1)
    assert status_of(api, apimsgid) == "004"
    assert reported(receiver) == ["011", "003", "004"]
    assert sandbox.balance == 99.0


def test_scheduled_time_in_iso_form_and_delayed_delivery(api: Api, sandbox: SandboxServer):
    iso = send(api, NUMBER, scheduled_time="2023-11-15T00:00:00Z")
    delayed = send(api, OTHER, deliv_time="10")
    assert status_of(api, iso) == status_of(api, delayed) == "011"
    sandbox.advance(600)
    assert (status_of(api, iso), status_of(api, delayed)) == ("011", "003")
    sandbox.advance(6400 - 600 - 1)  # START is 22:13:20 UTC: one second before midnight
    api.login(api_id="3456")
    assert status_of(api, iso) == "011"
    sandbox.advance(1)
    assert status_of(api, iso) == "003"


def test_delmsg_cancels_a_scheduled_message_and_refunds_it(
    api: Api, sandbox: SandboxServer, receiver: CallbackReceiver
):
    apimsgid = send(api, NUMBER_ECHOES, "x" * 200, concat="2", callback="7", deliv_time="60")
    assert sandbox.balance == 98.0
    sandbox.advance(10)
    assert api.call("delmsg", {"apimsgid": apimsgid}) == f"ID: {apimsgid} Status: 006"
    assert sandbox.balance == 100.0
    assert api.call("getmsgcharge", {"apimsgid": apimsgid}) == (
        f"apiMsgId: {apimsgid} charge: 0 status: 006"
    )
    sandbox.advance(7200)
    api.login(api_id="3456")
    assert status_of(api, apimsgid) == "006"
    assert reported(receiver) == ["011", "006"]
    assert receiver.accepted("/mo") == []  # never delivered, so never answered
    assert api.call("delmsg", {"apimsgid": apimsgid}) == f"ID: {apimsgid} Status: 006"


def test_delmsg_by_climsgid_cancels_every_recipient(api: Api, sandbox: SandboxServer):
    api.call(
        "sendmsg", {"to": f"{NUMBER},{OTHER}", "text": "x", "climsgid": "Later1", "deliv_time": "5"}
    )
    first = sandbox.messages()[0]
    assert api.call("delmsg", {"climsgid": "Later1"}) == f"ID: {first.apimsgid} Status: 006"
    assert [m.status for m in sandbox.messages()] == ["006", "006"]
    assert api.call("delmsg", {"climsgid": "Nope"}) == "ERR: 104, Unknown client message ID"
    assert api.call("delmsg") == "ERR: 109, Missing message ID"


# --- persistence ------------------------------------------------------------------------------


def test_state_file_round_trip(tmp_path: Path, clock: ManualClock, receiver: CallbackReceiver):
    path = tmp_path / "sandbox.json"
    with make_sandbox(clock, receiver, state_path=path, balance=50) as first:
        client = Api(first.url)
        session = client.login(api_id="3456")
        sent = send(client, NUMBER, "remember me", climsgid="Keep1", callback="7")
        held = send(client, OTHER, "later", callback="2", deliv_time="10")
        assert client.call("token_pay", {"token": "1111222233334444"}) == "OK: 605"
        batch = client.call("/http_batch/startbatch", {"template": "#field1#"})
        client.close()
    assert json.loads(path.read_text())["state"]["balance"] == 148.0
    receiver.requests.clear()

    clock.now += 400
    with make_sandbox(clock, receiver, state_path=path, balance=1) as second:
        client = Api(second.url)
        client.session_id = session  # sessions survive too (used within the TTL)
        assert client.call("getbalance") == "Credit: 148"
        assert client.call("querymsg", {"climsgid": "Keep1"}) == f"ID: {sent} Status: 004"
        assert status_of(client, held) == "011"
        assert client.call("token_pay", {"token": "1111222233334444"}).startswith("ERR: 101")
        item = client.call(
            "/http_batch/senditem",
            {"batch_id": batch.removeprefix("ID: "), "to": NUMBER, "field1": "x"},
        )
        assert item.startswith("ID: ")
        assert [m.text for m in second.messages()] == ["remember me", "later", "x"]
        second.run_due()  # the overdue reports of the first run go out now
        assert sorted(reported(receiver)) == ["003", "004"]
        second.advance(201)
        assert status_of(client, held) == "004"
        assert sorted(reported(receiver)) == ["003", "004", "004"]
        client.close()


def test_unreadable_state_file_is_a_clear_error(tmp_path: Path):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match=r"broken\.json"):
        SandboxServer(state_path=path, autorun=False)
    path.write_text(json.dumps({"state": {"version": 99}, "events": []}))
    with pytest.raises(ValueError, match=r"broken\.json"):
        SandboxServer(state_path=path, autorun=False)


@pytest.mark.parametrize(
    "content",
    [
        {"something": "else"},  # JSON, but not the sandbox's
        ["state", "events"],
        {"state": {"version": 1}, "events": []},  # a snapshot missing its fields
        {"state": {"version": 1, "balance": 1}, "events": "x"},
    ],
)
def test_a_file_that_is_not_sandbox_state_says_so(tmp_path: Path, content: object):
    path = tmp_path / "other.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ValueError) as caught:
        SandboxServer(state_path=path, autorun=False)
    assert str(caught.value).startswith(f"{path} is not a sandbox state file"), caught.value
    assert "'" not in str(caught.value).removeprefix(str(path))  # no raw KeyError('state')


# --- running ----------------------------------------------------------------------------------


def test_autorun_thread_runs_events_when_the_clock_moves(
    clock: ManualClock, receiver: CallbackReceiver
):
    with make_sandbox(clock, receiver, autorun=True) as sandbox:
        client = Api(sandbox.url)
        client.login(api_id="3456")
        send(client, NUMBER, callback="3")
        wait_for(lambda: reported(receiver) == ["003"], what="003 report")
        clock.now += 1
        wait_for(lambda: reported(receiver) == ["003", "004"], what="004 report")
        client.close()


def test_pending_events_tell_when_the_sandbox_has_settled(api: Api, sandbox: SandboxServer):
    assert sandbox.pending_events(3600) == []
    send(api, NUMBER_ECHOES, callback="3")
    assert [e.kind for e in sandbox.pending_events()] == ["status"]  # 003, due now
    assert [e.kind for e in sandbox.pending_events(1)] == ["status", "status"]  # and 004
    assert [e.kind for e in sandbox.pending_events(2)] == ["status", "status", "reply"]
    sandbox.advance(2)
    assert sandbox.pending_events(3600) == []


def test_concurrent_clients_are_all_served_and_charged(clock: ManualClock):
    with SandboxServer(clock=clock, autorun=False, balance=1000) as sandbox:
        replies: list[str] = []
        lock = threading.Lock()

        def worker() -> None:
            client = Api(sandbox.url)
            client.login()
            for _ in range(15):
                reply = client.call("sendmsg", {"to": f"{NUMBER},{OTHER}", "text": "x"})
                with lock:
                    replies.append(reply)
            client.close()

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(replies) == 120
        assert len({m.apimsgid for m in sandbox.messages()}) == 240
        assert sandbox.balance == 760.0


def _sandbox_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("sandbox-")}


def test_stop_closes_kept_alive_connections_and_the_port(clock: ManualClock):
    before = _sandbox_threads()  # other tests' sandboxes may still be winding down
    sandbox = SandboxServer(clock=clock, autorun=False).start()
    client = Api(sandbox.url)
    client.login()
    sandbox.stop()
    with pytest.raises(requests.ConnectionError):
        client.call("ping")
    assert not _sandbox_threads() - before
    sandbox.stop()  # idempotent
    client.close()


def test_bad_options_are_refused():
    for options in (
        {"session_ttl": 0},
        {"balance": -1},
        {"session_ttl": math.nan},
        {"session_ttl": math.inf},
        {"balance": math.nan},
        {"balance": math.inf},
        {"reply_delay": math.nan},
        {"callback_url": "ftp://x"},
        {"callback_user": "u"},
    ):
        with pytest.raises(ValueError):
            SandboxServer(autorun=False, **options)
    assert main(["--session-ttl", "-5"]) == 2  # a usage error, named by argparse


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_command_line_prints_its_url_and_stops_cleanly(tmp_path: Path, stop_signal: int):
    state = tmp_path / "state.json"
    command = [
        sys.executable,
        "-m",
        "bot.gateway.clickatell_http.sandbox",
        "--port",
        "0",
        "--balance",
        "7",
    ]
    process = subprocess.Popen(
        [*command, "--state", str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+)", line)
        assert match, line
        reply = requests.post(
            match.group(1) + "/http/getbalance",
            data="api_id=1&user=u&password=p",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=10,
        )
        assert reply.text == "Credit: 7"
        process.send_signal(stop_signal)
        assert process.wait(timeout=10) == 0
        assert json.loads(state.read_text())["state"]["balance"] == 7.0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_sent_messages_are_read_only_views_of_the_state(sandbox: SandboxServer, api: Api) -> None:
    api.call("sendmsg", {"to": "27821234567", "text": "hello", "climsgid": "view1"})
    [message] = sandbox.messages()
    assert (message.to, message.text, message.climsgid) == ("27821234567", "hello", "view1")
    assert message.status == "003"  # the status at the sandbox's clock: at the gateway
    sandbox.advance(5)
    assert message.status == "003"  # a snapshot, taken before the time moved
    assert sandbox.messages()[0].status == "004"
    with pytest.raises(TypeError):
        message.params["to"] = "x"  # type: ignore[index]
