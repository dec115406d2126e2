"""The sandbox gateway's commands over real HTTP: replies byte for byte, and the right error for
each bad input (protocol reference §1-§5, product.md §7)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests

from bot.gateway.clickatell_http.sandbox import (
    MAX_PARTS_CEILING,
    NUMBER_UNROUTABLE,
    VOUCHER_CREDIT,
    SandboxServer,
)
from bot.testing.clocks import START, ManualClock
from tests.support.sandbox_fixtures import Api

NUMBER = "27821234567"
OTHER = "27821234568"
HEX32 = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sandbox(clock: ManualClock) -> Iterator[SandboxServer]:
    with SandboxServer(clock=clock, autorun=False, balance=100.0) as server:
        yield server


@pytest.fixture
def api(sandbox: SandboxServer) -> Iterator[Api]:
    client = Api(sandbox.url)
    client.login()
    yield client
    client.close()


def send(api: Api, to: str, text: str | bytes = "hello", **params: str) -> str:
    return api.call("sendmsg", {"to": to, "text": text, **params})


def apimsgid(reply: str) -> str:
    match = re.fullmatch(r"ID: ([0-9a-f]{32})", reply)
    assert match, reply
    return match.group(1)


# --- sessions and authentication -------------------------------------------------------------


def test_auth_returns_a_32_hex_session_and_ping_answers_ok_with_nothing_after(api: Api):
    assert HEX32.fullmatch(api.session_id or "")
    assert api.call("ping") == "OK:"


def test_each_auth_opens_another_session_and_both_work(sandbox: SandboxServer, api: Api):
    second = Api(sandbox.url)
    second.login()
    assert second.session_id != api.session_id
    assert second.call("ping") == api.call("ping") == "OK:"
    second.close()


def test_session_expires_after_ttl_without_use(
    sandbox: SandboxServer, clock: ManualClock, api: Api
):
    clock.now += 899
    assert api.call("ping") == "OK:"  # used: extended for another 900 s
    clock.now += 899
    assert api.call("getbalance") == "Credit: 100"  # any call extends it
    clock.now += 901
    assert api.call("ping") == "ERR: 003, Session ID expired"
    assert api.call("getbalance") == "ERR: 003, Session ID expired"


def test_session_ttl_is_configurable(clock: ManualClock):
    with SandboxServer(clock=clock, autorun=False, session_ttl=10) as server:
        client = Api(server.url)
        client.login()
        clock.now += 11
        assert client.call("ping") == "ERR: 003, Session ID expired"
        client.close()


def test_unknown_session_is_expired_and_no_session_is_missing(api: Api):
    api.session_id = "0" * 32
    assert api.call("ping") == "ERR: 003, Session ID expired"
    api.session_id = None
    assert api.call("ping") == "ERR: 005, Missing session ID"
    assert api.call("getbalance") == "ERR: 005, Missing session ID"


def test_commands_accept_api_id_user_password_instead_of_a_session(sandbox: SandboxServer):
    client = Api(sandbox.url)
    creds = {"api_id": "9", "user": "me", "password": "secret"}
    assert client.call("getbalance", creds) == "Credit: 100"
    assert client.call("getbalance", {"user": "me", "password": "x"}) == (
        "ERR: 108, Invalid or missing api_id"
    )
    assert client.call("getbalance", {"api_id": "9", "user": "me"}) == (
        "ERR: 001, Authentication failed"
    )
    client.close()


@pytest.mark.parametrize(
    ("creds", "reply"),
    [
        ({"api_id": "3456", "user": "alice", "password": "pw"}, "OK"),
        (
            {"api_id": "9999", "user": "alice", "password": "pw"},
            "ERR: 108, Invalid or missing api_id",
        ),
        ({"user": "alice", "password": "pw"}, "ERR: 108, Invalid or missing api_id"),
        (
            {"api_id": "3456", "user": "bob", "password": "pw"},
            "ERR: 002, Unknown username or password",
        ),
        ({"api_id": "3456", "user": "alice", "password": "no"}, "ERR: 001, Authentication failed"),
        ({"api_id": "3456", "user": "alice"}, "ERR: 001, Authentication failed"),
    ],
)
def test_configured_credentials_are_the_only_ones_accepted(clock: ManualClock, creds, reply):
    with SandboxServer(
        clock=clock, autorun=False, api_id="3456", user="alice", password="pw"
    ) as server:
        client = Api(server.url)
        answer = client.call("auth", creds)
        assert answer.startswith("OK: ") if reply == "OK" else answer == reply
        client.close()


def test_post_that_is_not_form_encoded_fails_authentication(sandbox: SandboxServer):
    reply = requests.post(
        sandbox.url + "/http/auth",
        data="api_id=1&user=u&password=p",
        headers={"Content-Type": "text/plain"},
    )
    assert (reply.status_code, reply.text) == (200, "ERR: 001, Authentication failed")
    json_reply = requests.post(sandbox.url + "/http/auth", json={"api_id": "1"})
    assert json_reply.text == "ERR: 001, Authentication failed"


def test_form_content_type_with_a_charset_is_a_form(sandbox: SandboxServer):
    reply = requests.post(
        sandbox.url + "/http/auth",
        data="api_id=1&user=u&password=p",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"},
    )
    assert reply.text.startswith("OK: ")


# --- transport: GET, POST, .php, routing ------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("suffix", ["", ".php"])
def test_every_path_answers_by_get_or_post_with_or_without_php(api: Api, method: str, suffix: str):
    assert api.call(f"/http/ping{suffix}", method=method) == "OK:"
    assert api.call(f"/http/getbalance{suffix}", method=method) == "Credit: 100"
    assert api.call(f"/utils/routeCoverage{suffix}", {"msisdn": NUMBER}, method).startswith("OK:")
    assert apimsgid(api.call(f"/http/sendmsg{suffix}", {"to": NUMBER, "text": "x"}, method))
    batch = api.call(f"/http_batch/startbatch{suffix}", {"template": "Hi #field1#"}, method)
    assert re.fullmatch(r"ID: [0-9a-f]{32}", batch)


def test_post_body_overrides_the_query_string(api: Api):
    reply = api.http.post(
        api.base_url + "/http/ping?session_id=" + "0" * 32,
        data=f"session_id={api.session_id}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert reply.text == "OK:"


def test_unknown_command_is_a_plain_text_error_and_other_paths_404(api: Api):
    assert api.call("sendsms") == "ERR: 101, Invalid or missing parameters"
    assert api.call("/http_batch/sendmsg") == "ERR: 101, Invalid or missing parameters"
    for path in ("/", "/api/sendmsg", "/utils/other", "/http/ping/extra"):
        reply = api.http.get(api.base_url + path)
        assert reply.status_code == 404
        # One port serves both generations; a path of neither is the Portal's 404 (§9).
        assert reply.headers["Content-Type"] == "application/json"
        assert reply.json() == {"error": {"code": 41, "description": "Resource does not exist"}}


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "BREW"])
def test_other_methods_are_405_never_5xx(api: Api, method: str):
    reply = api.http.request(method, api.base_url + "/http/ping")
    assert reply.status_code == 405


def test_oversized_and_malformed_bodies_are_4xx(sandbox: SandboxServer):
    big = requests.post(
        sandbox.url + "/http/sendmsg",
        data=b"x" * (1024 * 1024 + 1),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert big.status_code == 413
    chunked = requests.post(
        sandbox.url + "/http/ping",
        data=iter([b"session_id=", b"x"]),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert chunked.status_code == 411


@pytest.mark.parametrize(
    "body",
    [b"%%%", b"&&&=&=", b"to=%ZZ&text=%", b"\xff\xfe=\x00", b"session_id=%00&to=,,,", b"="],
)
def test_garbage_parameters_get_protocol_errors_not_crashes(api: Api, body: bytes):
    reply = api.http.post(
        api.base_url + "/http/sendmsg",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert reply.status_code == 200
    assert reply.text.startswith("ERR: ")


def test_a_get_body_is_ignored_and_the_connection_stays_usable(api: Api):
    # The third-party `clickatell` package sends a JSON body with its GETs.
    reply = api.http.get(
        api.base_url + "/http/ping", params={"session_id": api.session_id}, data='{"a": 1}'
    )
    assert reply.text == "OK:"
    assert api.call("ping", method="GET") == "OK:"


def test_reply_delay_holds_each_answer(clock: ManualClock):
    slept: list[float] = []
    with SandboxServer(clock=clock, autorun=False, reply_delay=0.25, sleep=slept.append) as server:
        client = Api(server.url)
        client.login()
        client.call("ping")
        client.close()
    assert slept == [0.25, 0.25]


# --- sendmsg ----------------------------------------------------------------------------------


def test_single_recipient_reply_has_no_to(api: Api, sandbox: SandboxServer):
    reply = send(api, NUMBER, "hello")
    [message] = sandbox.messages()
    assert reply == f"ID: {message.apimsgid}"
    assert (message.to, message.text, message.parts, message.status) == (NUMBER, "hello", 1, "003")


def test_several_recipients_get_a_line_each_mixing_ids_and_errors(api: Api, sandbox: SandboxServer):
    reply = send(api, f"{NUMBER},12,{NUMBER_UNROUTABLE},+{OTHER},{OTHER},")
    lines = reply.split("\n")
    assert lines[-1] == ""  # one record per line, each ending with a newline
    assert lines[1:-1] == [
        "ERR: 105, Invalid Destination Address To: 12",
        f"ERR: 114, Cannot route message To: {NUMBER_UNROUTABLE}",
        f"ERR: 105, Invalid Destination Address To: +{OTHER}",
        lines[4],
        "ERR: 105, Invalid Destination Address To: ",
    ]
    ids = {m.to: m.apimsgid for m in sandbox.messages()}
    assert lines[0] == f"ID: {ids[NUMBER]} To: {NUMBER}"
    assert lines[4] == f"ID: {ids[OTHER]} To: {OTHER}"
    assert sandbox.balance == 98.0


def test_percent_encoded_commas_reach_only_the_first_recipient(api: Api, sandbox: SandboxServer):
    # requests encodes the comma of a dict value as %2C: production then sent to the first only.
    reply = api.http.post(
        api.base_url + "/http/sendmsg",
        data={"session_id": api.session_id, "to": f"{NUMBER},{OTHER}", "text": "hi"},
    )
    assert apimsgid(reply.text)
    assert [m.to for m in sandbox.messages()] == [NUMBER]
    get_reply = api.http.get(
        api.base_url + "/http/sendmsg",
        params={"session_id": api.session_id, "to": f"{OTHER},{NUMBER}", "text": "hi"},
    )
    assert apimsgid(get_reply.text)
    assert [m.to for m in sandbox.messages()] == [NUMBER, OTHER]


def test_unroutable_single_recipient(api: Api):
    assert send(api, NUMBER_UNROUTABLE) == "ERR: 114, Cannot route message"
    assert send(api, "0027821234567") == "ERR: 105, Invalid Destination Address"


@pytest.mark.parametrize(("method", "limit"), [("GET", 100), ("POST", 300)])
def test_recipient_limits_per_call(clock: ManualClock, method: str, limit: int):
    numbers = [f"2782{n:07d}" for n in range(limit + 1)]
    with SandboxServer(clock=clock, autorun=False, balance=1000) as sandbox:
        api = Api(sandbox.url)
        api.login()
        too_many = api.call("sendmsg", {"to": ",".join(numbers), "text": "x"}, method)
        assert too_many == "ERR: 101, Invalid or missing parameters"
        assert sandbox.messages() == []
        at_limit = api.call("sendmsg", {"to": ",".join(numbers[:limit]), "text": "x"}, method)
        assert at_limit.count("\n") == limit
        assert [m.to for m in sandbox.messages()] == numbers[:limit]
        api.close()


@pytest.mark.parametrize(
    ("params", "reply"),
    [
        ({"text": "hi"}, "ERR: 101, Invalid or missing parameters"),
        ({"to": NUMBER}, "ERR: 101, Invalid or missing parameters"),
        ({"to": "", "text": "hi"}, "ERR: 101, Invalid or missing parameters"),
        ({"to": NUMBER, "text": ""}, "ERR: 107, Empty message"),
        ({"to": NUMBER, "text": "   "}, "ERR: 107, Empty message"),
        ({"to": NUMBER, "text": "", "unicode": "1"}, "ERR: 107, Empty message"),
        ({"to": NUMBER, "text": "03A9Z3A8", "unicode": "1"}, "ERR: 116, Invalid Unicode Data"),
        ({"to": NUMBER, "text": "03A903", "unicode": "1"}, "ERR: 116, Invalid Unicode Data"),
        ({"to": NUMBER, "text": "D83D", "unicode": "1"}, "ERR: 116, Invalid Unicode Data"),
        ({"to": NUMBER, "text": "x" * 161}, "ERR: 113, Max message parts exceeded"),
        ({"to": NUMBER, "text": "x" * 307, "concat": "2"}, "ERR: 113, Max message parts exceeded"),
        ({"to": NUMBER, "text": "x", "concat": "0"}, "ERR: 101, Invalid or missing parameters"),
        ({"to": NUMBER, "text": "x", "callback": "8"}, "ERR: 101, Invalid or missing parameters"),
        ({"to": NUMBER, "text": "x", "unicode": "2"}, "ERR: 101, Invalid or missing parameters"),
        ({"to": NUMBER, "text": "x", "climsgid": "a-b"}, "ERR: 101, Invalid or missing parameters"),
        (
            {"to": NUMBER, "text": "x", "climsgid": "a" * 33},
            "ERR: 101, Invalid or missing parameters",
        ),
        ({"to": NUMBER, "text": "x", "queue": "4"}, "ERR: 101, Invalid or missing parameters"),
        ({"to": NUMBER, "text": "x", "validity": "0"}, "ERR: 101, Invalid or missing parameters"),
        (
            {"to": NUMBER, "text": "x", "max_credits": "0.5"},
            "ERR: 101, Invalid or missing parameters",
        ),
        (
            {"to": NUMBER, "text": "x", "concat": "9" * 5000},
            "ERR: 101, Invalid or missing parameters",
        ),
        ({"to": NUMBER, "text": "x", "from": "TwelveLetter"}, "ERR: 106, Invalid Source Address"),
        ({"to": NUMBER, "text": "x", "from": "1" * 17}, "ERR: 106, Invalid Source Address"),
        ({"to": NUMBER, "text": "x", "msg_type": "SMS_LOUD"}, "ERR: 112, Invalid message type"),
        ({"to": NUMBER, "text": "x", "udh": "0500"}, "ERR: 102, Invalid user data header"),
        ({"to": NUMBER, "text": "x", "udh": "zz"}, "ERR: 102, Invalid user data header"),
        ({"to": NUMBER, "text": "x", "deliv_time": "10081"}, "ERR: 120, Invalid delivery time"),
        ({"to": NUMBER, "text": "x", "deliv_time": "-5"}, "ERR: 120, Invalid delivery time"),
        ({"to": NUMBER, "text": "x", "scheduled_time": "soon"}, "ERR: 120, Invalid delivery time"),
        (
            {"to": NUMBER, "text": "x", "scheduled_time": str(int(START) - 60)},
            "ERR: 120, Invalid delivery time",
        ),
        (
            {"to": NUMBER, "text": "x", "scheduled_time": str(int(START) + 7 * 86400 + 1)},
            "ERR: 120, Invalid delivery time",
        ),
        (
            {"to": NUMBER, "text": "x", "scheduled_time": "2023-11-14T22:13:20"},
            "ERR: 120, Invalid delivery time",
        ),
    ],
)
def test_each_bad_input_gets_its_error(api: Api, sandbox: SandboxServer, params, reply):
    assert api.call("sendmsg", params) == reply
    assert sandbox.messages() == []
    assert sandbox.balance == 100.0


def test_all_the_other_parameters_are_accepted(api: Api, sandbox: SandboxServer):
    reply = send(
        api,
        NUMBER,
        "x",
        **{
            "from": "27820000001",
            "mo": "1",
            "callback": "3",
            "deliv_ack": "1",
            "concat": "3",
            "climsgid": "Abc123",
            "max_credits": "1.5",
            "req_feat": "16384",
            "queue": "1",
            "escalate": "0",
            "validity": "60",
            "msg_type": "SMS_FLASH",
            "udh": "050003010201",
        },
    )
    [message] = sandbox.messages()
    assert reply == f"ID: {message.apimsgid}"
    assert (message.sender, message.climsgid, message.params["req_feat"]) == (
        "27820000001",
        "Abc123",
        "16384",
    )
    assert "password" not in message.params and "session_id" not in message.params


def test_plain_text_is_read_as_latin1_bytes(api: Api, sandbox: SandboxServer):
    send(api, NUMBER, "ä".encode())  # UTF-8 bytes, as a careless client would send them
    send(api, OTHER, "ä".encode("latin-1"))
    first, second = sandbox.messages()
    assert (first.text, second.text) == ("Ã¤", "ä")


def test_unicode_text_is_utf16be_hex_with_surrogate_pairs(api: Api, sandbox: SandboxServer):
    send(api, NUMBER, "03A903A8D83DDE00", unicode="1")
    [message] = sandbox.messages()
    assert (message.text, message.unicode, message.parts) == ("ΩΨ😀", True, 1)


@pytest.mark.parametrize(
    ("text", "unicode", "parts"),
    [
        ("x" * 160, "0", 1),
        ("x" * 161, "0", 2),
        ("x" * 306, "0", 2),
        ("x" * 307, "0", 3),
        ("[" * 80, "0", 1),  # extension characters take two septets
        ("[" * 81, "0", 2),
        ("Â" * 160, "0", 1),  # Latin-1 but not GSM: substituted, one septet each
        ("x" * 70, "1", 1),  # GSM-only text sent as unicode counts in UCS-2 units
        ("x" * 71, "1", 2),
        ("Ω" * 134, "1", 2),
        ("Ω" * 135, "1", 3),
    ],
)
def test_parts_are_counted_per_encoding_and_charged_per_part(
    api: Api, sandbox: SandboxServer, text: str, unicode: str, parts: int
):
    value: str | bytes = (
        text.encode("utf-16-be").hex() if unicode == "1" else text.encode("latin-1")
    )
    reply = send(api, NUMBER, value, unicode=unicode, concat=str(parts))
    [message] = sandbox.messages()
    assert reply == f"ID: {message.apimsgid}"
    assert message.parts == parts
    assert sandbox.balance == 100.0 - parts
    if parts > 1:
        assert send(api, OTHER, value, unicode=unicode, concat=str(parts - 1)) == (
            "ERR: 113, Max message parts exceeded"
        )


def test_parts_above_the_ceiling_fail_whatever_concat_says(api: Api):
    text = "x" * (153 * MAX_PARTS_CEILING + 1)
    assert send(api, NUMBER, text, concat="99") == "ERR: 113, Max message parts exceeded"


def test_credit_runs_out_per_recipient(clock: ManualClock):
    with SandboxServer(clock=clock, autorun=False, balance=3.0) as server:
        client = Api(server.url)
        client.login()
        two_parts = "x" * 200
        reply = send(client, f"{NUMBER},{OTHER}", two_parts, concat="2")
        lines = reply.splitlines()
        assert lines[0].startswith("ID: ") and lines[0].endswith(f" To: {NUMBER}")
        assert lines[1] == f"ERR: 301, No Credit Left To: {OTHER}"
        assert client.call("getbalance") == "Credit: 1"
        assert send(client, NUMBER, two_parts, concat="2") == "ERR: 301, No Credit Left"
        assert apimsgid(send(client, NUMBER, "short"))
        assert client.call("getbalance") == "Credit: 0"
        client.close()


def test_max_credits_blocks_a_costlier_message_with_status_009(api: Api, sandbox: SandboxServer):
    reply = send(api, NUMBER, "x" * 200, concat="2", max_credits="1.5")
    message_id = apimsgid(reply)
    assert api.call("querymsg", {"apimsgid": message_id}) == f"ID: {message_id} Status: 009"
    assert api.call("getmsgcharge", {"apimsgid": message_id}) == (
        f"apiMsgId: {message_id} charge: 0 status: 009"
    )
    assert sandbox.balance == 100.0


def test_binary_data_messages_are_counted_in_bytes(api: Api, sandbox: SandboxServer):
    reply = api.call("sendmsg", {"to": NUMBER, "data": "00" * 200, "concat": "2"})
    assert apimsgid(reply)
    assert sandbox.messages()[0].parts == 2


# --- querymsg, delmsg, getmsgcharge -----------------------------------------------------------


def test_querymsg_by_apimsgid_or_climsgid(api: Api, sandbox: SandboxServer):
    message_id = apimsgid(send(api, NUMBER, climsgid="Mine1"))
    expected = f"ID: {message_id} Status: 003"
    assert api.call("querymsg", {"apimsgid": message_id}) == expected
    assert api.call("querymsg", {"climsgid": "Mine1"}) == expected
    assert api.call("querymsg", {"apimsgid": "f" * 32}) == "ERR: 103, Unknown API message ID"
    assert api.call("querymsg", {"climsgid": "Other"}) == "ERR: 104, Unknown client message ID"
    assert api.call("querymsg") == "ERR: 109, Missing message ID"


def test_a_climsgid_shared_by_recipients_answers_for_the_first(api: Api, sandbox: SandboxServer):
    send(api, f"{NUMBER},{OTHER}", climsgid="Chunk1")
    first = sandbox.messages()[0]
    assert api.call("querymsg", {"climsgid": "Chunk1"}) == f"ID: {first.apimsgid} Status: 003"


def test_getmsgcharge_is_lower_case_and_per_part(api: Api, sandbox: SandboxServer):
    message_id = apimsgid(send(api, NUMBER, "y" * 200, concat="2", climsgid="C2"))
    expected = f"apiMsgId: {message_id} charge: 2 status: 003"
    assert api.call("getmsgcharge", {"apimsgid": message_id}) == expected
    assert api.call("getmsgcharge", {"climsgid": "C2"}) == expected
    assert api.call("getmsgcharge", {"apimsgid": "0" * 32}) == "ERR: 103, Unknown API message ID"


def test_getmsgcharge_forgets_messages_after_15_days(
    api: Api, sandbox: SandboxServer, clock: ManualClock
):
    message_id = apimsgid(send(api, NUMBER))
    clock.now += 15 * 86400 + 1
    api.login()
    assert api.call("getmsgcharge", {"apimsgid": message_id}) == "ERR: 103, Unknown API message ID"


def test_delmsg_on_a_sent_message_just_reports_its_status(api: Api, sandbox: SandboxServer):
    message_id = apimsgid(send(api, NUMBER))
    sandbox.advance(2)
    assert api.call("delmsg", {"apimsgid": message_id}) == f"ID: {message_id} Status: 004"
    assert sandbox.balance == 99.0


# --- account ----------------------------------------------------------------------------------


def test_getbalance_starts_from_the_configured_balance(clock: ManualClock):
    with SandboxServer(clock=clock, autorun=False, balance=12.5) as server:
        client = Api(server.url)
        client.login()
        assert client.call("getbalance") == "Credit: 12.5"
        client.close()


def test_token_pay_accepts_each_16_digit_voucher_once(api: Api, sandbox: SandboxServer):
    assert api.call("token_pay", {"token": "1234567890123456"}) == "OK: 605"
    assert sandbox.balance == 100.0 + VOUCHER_CREDIT
    assert api.call("token_pay", {"token": "1234567890123456"}) == (
        "ERR: 101, Invalid or missing parameters"
    )
    for bad in ("123456789012345", "12345678901234567", "abcdefghijklmnop"):
        assert api.call("token_pay", {"token": bad}) == "ERR: 101, Invalid or missing parameters"
    assert api.call("token_pay") == "ERR: 101, Invalid or missing parameters"
    assert sandbox.balance == 100.0 + VOUCHER_CREDIT


def test_route_coverage(api: Api):
    assert api.call("/utils/routeCoverage.php", {"msisdn": NUMBER}) == (
        "OK: This prefix is currently supported. Messages sent to this prefix will be routed. "
        "Charge: 1"
    )
    assert api.call("/utils/routeCoverage.php", {"msisdn": NUMBER_UNROUTABLE}) == (
        "ERR: This prefix is not currently supported. Messages sent to this prefix will fail. "
        "Please contact support for assistance."
    )
    assert api.call("/utils/routeCoverage", {"msisdn": "12"}) == (
        "ERR: 105, Invalid Destination Address"
    )
    assert api.call("/utils/routeCoverage") == "ERR: 101, Invalid or missing parameters"


# --- batches ----------------------------------------------------------------------------------


def test_batch_flow(api: Api, sandbox: SandboxServer):
    started = api.call(
        "/http_batch/startbatch", {"template": "Hi #field1#, you owe #field2#", "from": "Shop"}
    )
    batch_id = started.removeprefix("ID: ")
    assert HEX32.fullmatch(batch_id)
    item = api.call(
        "/http_batch/senditem",
        {"batch_id": batch_id, "to": NUMBER, "field1": "Ann", "field2": "R5"},
    )
    assert apimsgid(item)
    quick = api.call("/http_batch/quicksend", {"batch_id": batch_id, "to": f"{OTHER},12"})
    lines = quick.splitlines()
    assert re.fullmatch(rf"ID: [0-9a-f]{{32}} To: {OTHER}", lines[0])
    assert lines[1] == "ERR: 105, Invalid Destination Address To: 12"
    one = api.call("/http_batch/quicksend", {"batch_id": batch_id, "to": NUMBER})
    assert re.fullmatch(rf"ID: [0-9a-f]{{32}} To: {NUMBER}", one)
    assert api.call("/http_batch/endbatch", {"batch_id": batch_id}) == "OK"
    texts = [(m.to, m.text, m.sender) for m in sandbox.messages()]
    assert texts == [
        (NUMBER, "Hi Ann, you owe R5", "Shop"),
        (OTHER, "Hi , you owe ", "Shop"),
        (NUMBER, "Hi , you owe ", "Shop"),
    ]
    assert api.call("/http_batch/senditem", {"batch_id": batch_id, "to": NUMBER}) == (
        "ERR: 201, Invalid batch ID"
    )


def test_unicode_batch_takes_hex_template_and_fields(api: Api, sandbox: SandboxServer):
    template = "Привет #field1#".encode("utf-16-be").hex()
    batch_id = api.call(
        "/http_batch/startbatch", {"template": template, "unicode": "1"}
    ).removeprefix("ID: ")
    field = "Ωmega".encode("utf-16-be").hex()
    api.call("/http_batch/senditem", {"batch_id": batch_id, "to": NUMBER, "field1": field})
    assert sandbox.messages()[0].text == "Привет Ωmega"
    assert (
        api.call("/http_batch/senditem", {"batch_id": batch_id, "to": NUMBER, "field1": "XYZ"})
        == "ERR: 116, Invalid Unicode Data"
    )


def test_batch_errors(api: Api, clock: ManualClock):
    assert api.call("/http_batch/startbatch") == "ERR: 202, No batch template"
    assert api.call("/http_batch/startbatch", {"template": ""}) == "ERR: 202, No batch template"
    assert api.call("/http_batch/senditem", {"to": NUMBER}) == "ERR: 201, Invalid batch ID"
    assert api.call("/http_batch/endbatch", {"batch_id": "0" * 32}) == "ERR: 201, Invalid batch ID"
    batch_id = api.call("/http_batch/startbatch", {"template": "#field1#"}).removeprefix("ID: ")
    assert api.call("/http_batch/senditem", {"batch_id": batch_id, "to": NUMBER}) == (
        "ERR: 107, Empty message"
    )
    clock.now += 24 * 3600 + 1
    api.login()
    assert (
        api.call("/http_batch/senditem", {"batch_id": batch_id, "to": NUMBER, "field1": "x"})
        == "ERR: 201, Invalid batch ID"
    )


def test_batch_items_respect_concat(api: Api):
    batch_id = api.call(
        "/http_batch/startbatch", {"template": "#field1#", "concat": "1"}
    ).removeprefix("ID: ")
    reply = api.call(
        "/http_batch/senditem", {"batch_id": batch_id, "to": NUMBER, "field1": "z" * 161}
    )
    assert reply == "ERR: 113, Max message parts exceeded"
