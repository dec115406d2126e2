"""ClickatellClient against a scripted server: the wire format, sessions, retries, idempotency."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.gateway.base import GatewayError, NotSent, OutcomeUnknown
from bot.gateway.clickatell_http.chunks import MAX_RECIPIENTS, chunk_climsgid, new_climsgid
from bot.gateway.clickatell_http.client import ClickatellClient
from bot.gateway.clickatell_http.codes import explain_error
from bot.gateway.clickatell_http.wire import NoReply, form_body
from bot.sms.encoding import TextTooLong
from bot.sms.numbers import InvalidNumber
from bot.sms.refusals import Refused
from bot.testing.gateway import Reply, Request, ScriptedGateway

PHONE = "27821234567"
WALL = 1_750_000_000.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server() -> Iterator[ScriptedGateway]:
    with ScriptedGateway() as scripted:
        yield scripted


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(server, clock, sleeps) -> Iterator[ClickatellClient]:
    with ClickatellClient(
        server.url,
        "3456",
        "user",
        "secret",
        timeout=2.0,
        clock=clock,
        sleep=sleeps.append,
        wallclock=lambda: WALL,
    ) as made:
        yield made


def sendmsgs(server: ScriptedGateway) -> list[Request]:
    return server.calls("sendmsg")


# --- wire format --------------------------------------------------------------------------------


def test_every_request_is_a_form_post(server, client):
    server.on("getbalance", "Credit: 10.5\n")
    server.on("sendmsg", "ID: abc")
    assert client.balance() == 10.5
    client.send(PHONE, "hi")
    assert [r.method for r in server.requests] == ["POST"] * 3
    for request in server.requests:
        assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert server.requests[0].form() == {
        "api_id": b"3456",
        "user": b"user",
        "password": b"secret",
    }


def test_latin1_bytes_on_the_wire_for_plain_text(server, client):
    server.on("sendmsg", "ID: abc")
    result = client.send(PHONE, "Grüße ä & 100%")
    request = sendmsgs(server)[0]
    assert request.raw_param("text") == b"Gr%FC%DFe%20%E4%20%26%20100%25"
    assert request.form()["unicode"] == b"0"
    assert (result.encoding, result.parts) == ("gsm7", 1)


def test_unicode_hex_on_the_wire(server, client):
    server.on("sendmsg", "ID: abc")
    result = client.send(PHONE, "ΩΨ 😀")
    form = sendmsgs(server)[0].form()
    assert form["text"] == b"03A903A80020D83DDE00"
    assert form["unicode"] == b"1"
    assert result.encoding == "ucs2"


def test_sets_callback_concat_climsgid_and_sender(server, client):
    server.on("sendmsg", "ID: abc")
    result = client.send(PHONE, "x" * 200, sender="+27820000000", climsgid="mine42")
    form = sendmsgs(server)[0].form()
    assert form["concat"] == b"2"
    assert form["callback"] == b"7"
    assert form["climsgid"] == b"mine42"
    assert form["from"] == b"27820000000"
    assert form["mo"] == b"1"
    assert result.messages[0].climsgid == "mine42"
    assert result.parts == 2


def test_generated_climsgids_are_unique_alphanumeric(server, client):
    server.on("sendmsg", "ID: a", "ID: b")
    first = client.send(PHONE, "one").messages[0].climsgid
    second = client.send(PHONE, "two").messages[0].climsgid
    assert first != second
    assert first.isalnum() and len(first) <= 32


def test_all_section_4_parameters(server, client):
    server.on("sendmsg", "ID: abc")
    at = datetime.fromtimestamp(WALL, UTC) + timedelta(days=2)
    client.send(
        PHONE,
        "hi",
        scheduled_time=at,
        callback=3,
        deliv_ack=1,
        max_credits=1.5,
        req_feat=16384,
        queue=1,
        escalate=True,
        validity=60,
        msg_type="SMS_FLASH",
        udh="050003010201",
    )
    form = sendmsgs(server)[0].form()
    assert form["scheduled_time"] == str(int(at.timestamp())).encode()
    assert form["callback"] == b"3"
    assert form["max_credits"] == b"1.5"
    assert form["escalate"] == b"1"
    assert form["msg_type"] == b"SMS_FLASH"
    assert form["udh"] == b"050003010201"


def test_deliv_time(server, client):
    server.on("sendmsg", "ID: abc")
    client.send(PHONE, "hi", deliv_time=10080)
    assert sendmsgs(server)[0].form()["deliv_time"] == b"10080"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"deliv_time": 10081},
        {"deliv_time": 0},
        {"scheduled_time": datetime.fromtimestamp(WALL, UTC) + timedelta(days=7, seconds=1)},
        {"scheduled_time": datetime.fromtimestamp(WALL - 1, UTC)},
        {"scheduled_time": datetime(2030, 1, 1)},  # naive
        {"climsgid": "x" * 33},
        {"climsgid": "has-dash"},
        {"sender": "TwelveChars1"},
        {"sender": "12345678901234567"},
        {"callback": 8},
        {"queue": 0},
        {"validity": 1441},
        {"max_credits": 4},
        {"udh": "0G"},
        {"bogus": 1},
    ],
)
def test_bad_parameters_refused_before_any_call(server, client, kwargs):
    with pytest.raises(Refused):
        client.send(PHONE, "hi", **kwargs)
    assert server.requests == []


def test_text_too_long_and_invalid_number_make_no_call(server, client):
    with pytest.raises(TextTooLong) as caught:
        client.send(PHONE, "x" * 460)  # 4 parts of 153; the limit is 3
    assert "4 parts" in str(caught.value)
    with pytest.raises(InvalidNumber):
        client.send([PHONE, "not a number"], "hi")
    with pytest.raises(Refused):
        client.send(PHONE, "   ")
    with pytest.raises(Refused):
        client.send([], "hi")
    assert server.requests == []


def test_form_body_keeps_commas_literal_only_in_to():
    body = form_body([("to", "1,2"), ("text", b"a,b"), ("from", "x,y")])
    assert body == b"to=1,2&text=a%2Cb&from=x%2Cy"


# --- sessions -----------------------------------------------------------------------------------


def test_one_auth_for_many_calls(server, client):
    server.script = lambda r: "Credit: 1" if r.command == "getbalance" else None
    for _ in range(5):
        client.balance()
    assert len(server.calls("auth")) == 1
    assert {r.form()["session_id"] for r in server.calls("getbalance")} == {
        b"0123456789abcdef0123456789abcdef"
    }


def test_renews_before_the_idle_expiry(server, client, clock):
    server.script = lambda r: "Credit: 1" if r.command == "getbalance" else None
    client.balance()
    clock.now += 800  # still fresh: reused
    client.balance()
    clock.now += 850  # idle for almost 15 minutes: authenticate again first
    client.balance()
    assert len(server.calls("auth")) == 2
    assert len(server.calls("getbalance")) == 3


@pytest.mark.parametrize("code", ["003", "005"])
def test_expired_session_reauthenticates_once_and_retries(server, client, code):
    server.on("getbalance", "Credit: 1", f"ERR: {code}, Session ID expired", "Credit: 2")
    assert client.balance() == 1
    assert client.balance() == 2
    assert len(server.calls("auth")) == 2


def test_second_expiry_in_a_row_is_raised(server, client):
    server.on("getbalance", "ERR: 003, Session ID expired", "ERR: 003, Session ID expired")
    with pytest.raises(GatewayError) as caught:
        client.balance()
    assert caught.value.code == "003"
    assert len(server.calls("auth")) == 2


def test_concurrent_callers_on_an_expired_session_reauthenticate_once(server, client):
    sessions = iter(["a" * 32, "b" * 32])
    callers = 8
    barrier = threading.Barrier(callers, timeout=10)

    def script(request: Request):
        if request.command == "auth":
            return f"OK: {next(sessions)}"
        if request.form()["session_id"] == b"a" * 32:
            barrier.wait()  # every caller is in flight with the old session before any answer
            return "ERR: 003, Session ID expired"
        return "Credit: 5"

    server.script = script
    client.auth()
    results: list[float] = []
    errors: list[BaseException] = []

    def call() -> None:
        try:
            results.append(client.balance())
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=call) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert results == [5.0] * callers
    assert len(server.calls("auth")) == 2  # the first session, then exactly one renewal


def test_ping(server, client):
    client.ping()
    assert [r.command for r in server.requests] == ["auth", "ping"]


def test_bad_credentials(server, client):
    server.on("auth", "ERR: 001, Authentication failed")
    with pytest.raises(GatewayError) as caught:
        client.balance()
    assert caught.value.code == "001"
    assert "getbalance" not in [r.command for r in server.requests]


# --- retries --------------------------------------------------------------------------------------


def test_901_retried_with_backoff(server, client, sleeps):
    server.on("getbalance", "ERR: 901, Internal error", "ERR: 901, Internal error", "Credit: 3")
    assert client.balance() == 3
    assert sleeps == [0.5, 1.0]


def test_901_gives_up(server, client, sleeps):
    server.script = lambda r: "ERR: 901, Internal error" if r.command == "getbalance" else None
    with pytest.raises(GatewayError) as caught:
        client.balance()
    assert caught.value.code == "901"
    assert len(server.calls("getbalance")) == 4
    assert sleeps == [0.5, 1.0, 2.0]


def test_901_on_send_checks_before_resending(server, client, sleeps):
    server.on("sendmsg", "ERR: 901, Internal error", "ID: second")
    server.on("querymsg", "ERR: 104, Unknown client message ID")
    result = client.send(PHONE, "hi")
    assert result.messages[0].apimsgid == "second"
    climsgids = {r.form()["climsgid"] for r in sendmsgs(server)}
    assert len(climsgids) == 1
    assert server.calls("querymsg")[0].form()["climsgid"] == climsgids.pop()
    assert sleeps == [0.5]


def test_timeout_then_found_by_climsgid_is_not_resent(server, clock, sleeps):
    release = threading.Event()
    server.on("sendmsg", Reply("ID: late", hold=release))
    server.on("querymsg", "ID: found1 Status: 003")
    with ClickatellClient(
        server.url, "1", "u", "p", timeout=0.3, clock=clock, sleep=sleeps.append
    ) as fast:
        result = fast.send(PHONE, "hi", climsgid="once1")
    release.set()
    assert result.messages[0].apimsgid == "found1"
    assert len(sendmsgs(server)) == 1
    assert server.calls("querymsg")[0].form()["climsgid"] == b"once1"


def test_dropped_connection_then_104_resends_with_the_same_climsgid(server, clock, sleeps):
    server.on("sendmsg", Reply(drop=True), "ID: again")
    server.on("querymsg", "ERR: 104, Unknown client message ID")
    with ClickatellClient(server.url, "1", "u", "p", clock=clock, sleep=sleeps.append) as fast:
        result = fast.send(PHONE, "hi", climsgid="twice")
    assert result.messages[0].apimsgid == "again"
    assert [r.form()["climsgid"] for r in sendmsgs(server)] == [b"twice", b"twice"]


def test_unknown_outcome_when_the_check_fails_is_never_resent(server, clock, sleeps):
    server.on("sendmsg", Reply(drop=True))
    server.on("querymsg", Reply(drop=True))
    with (
        ClickatellClient(server.url, "1", "u", "p", clock=clock, sleep=sleeps.append) as fast,
        pytest.raises(OutcomeUnknown) as caught,
    ):
        fast.send(PHONE, "hi", climsgid="maybe")
    assert "maybe" in str(caught.value)
    assert len(sendmsgs(server)) == 1


def test_resends_are_bounded(server, clock, sleeps):
    server.script = lambda r: Reply(drop=True) if r.command == "sendmsg" else None
    server.on("querymsg", *["ERR: 104, Unknown client message ID"] * 5)
    with (
        ClickatellClient(server.url, "1", "u", "p", clock=clock, sleep=sleeps.append) as fast,
        pytest.raises(GatewayError) as caught,
    ):
        fast.send(PHONE, "hi")
    assert not isinstance(caught.value, OutcomeUnknown)
    assert "not sent" in caught.value.explanation
    assert len(sendmsgs(server)) == 3


def test_garbled_send_reply_is_checked(server, client):
    server.on("sendmsg", "<html>Bad gateway</html>")
    server.on("querymsg", "ID: real Status: 004")
    assert client.send(PHONE, "hi").messages[0].apimsgid == "real"
    assert len(sendmsgs(server)) == 1


def test_timeout_on_a_query_is_a_clear_error(server, clock):
    server.on("getbalance", Reply("Credit: 1", delay=1.0))
    with (
        ClickatellClient(server.url, "1", "u", "p", timeout=0.2, clock=clock) as fast,
        pytest.raises(NoReply) as caught,
    ):
        fast.balance()
    assert "0.2 seconds" in str(caught.value)


def test_connection_refused_is_not_sent(clock):
    with ScriptedGateway() as gone:
        url = gone.url
    with (
        ClickatellClient(url, "1", "u", "p", clock=clock) as lost,
        pytest.raises(NotSent) as caught,
    ):
        lost.send(PHONE, "hi")
    assert "Could not connect" in str(caught.value)


def test_http_error_status(server, client):
    server.on("getbalance", Reply("oops", status=502))
    with pytest.raises(GatewayError, match="HTTP 502"):
        client.balance()


# --- many recipients ----------------------------------------------------------------------------


def numbers(count: int) -> list[str]:
    return [f"2782{1000000 + i:07d}" for i in range(count)]


def echo_send(request: Request) -> str | None:
    """Answers sendmsg with one line per recipient, in reverse order, one of them refused."""
    if request.command != "sendmsg":
        return None
    to = request.form()["to"].decode().split(",")
    lines = [f"ID: id{n} To: {n}" for n in to[1:]]
    lines.append(f"ERR: 105, Invalid Destination Address To: {to[0]}")
    return "\n".join(reversed(lines)) + "\n"


def test_chunks_of_300_with_literal_commas_and_results_in_input_order(server, client):
    server.script = echo_send
    recipients = numbers(MAX_RECIPIENTS + 1)
    result = client.send(recipients, "hi", climsgid="bulk")
    posts = sendmsgs(server)
    assert len(posts) == 2
    assert posts[0].raw_param("to").count(b",") == MAX_RECIPIENTS - 1
    assert b"%2C" not in posts[0].body
    assert [m.to for m in result.messages] == recipients
    assert result.messages[0].error.code == "105"
    assert result.messages[1].apimsgid == f"id{recipients[1]}"
    assert result.messages[300].error.code == "105"  # first of the second chunk
    assert [p.form()["climsgid"] for p in posts] == [b"bulkc1", b"bulkc2"]
    assert {m.climsgid for m in result.messages[:300]} == {"bulkc1"}


def test_duplicate_numbers_are_sent_once(server, client):
    server.script = echo_send
    result = client.send(["+27821000001", "0027821000001", "27821000002"], "hi")
    assert [m.to for m in result.messages] == ["27821000001", "27821000002"]
    assert sendmsgs(server)[0].form()["to"] == b"27821000001,27821000002"


def test_empty_to_lines_go_to_unmatched_recipients(server, client):
    server.on(
        "sendmsg",
        "ERR: 105, Invalid Destination Address To: \nID: b To: 27821000001\n",
    )
    result = client.send(numbers(2), "hi")
    assert result.messages[0].error.code == "105"
    assert result.messages[1].apimsgid == "b"


def test_call_level_error_applies_to_every_recipient(server, client):
    server.on("sendmsg", "ERR: 301, No Credit Left\n")
    result = client.send(numbers(3), "hi")
    assert [m.error.code for m in result.messages] == ["301"] * 3


def test_a_recipient_the_reply_forgot_is_outcome_unknown(server, client):
    server.on("sendmsg", "ID: a To: 27821000000\n")
    result = client.send(numbers(2), "hi")
    assert result.messages[0].apimsgid == "a"
    assert isinstance(result.messages[1].error, OutcomeUnknown)


def test_later_chunk_failure_keeps_earlier_results(server, client):
    server.script = echo_send
    server.on("sendmsg", "ID: x To: 27821000000", Reply(drop=True))
    server.on("querymsg", Reply(drop=True))
    result = client.send(numbers(2 * MAX_RECIPIENTS + 1), "hi")
    assert result.messages[0].apimsgid == "x"
    assert isinstance(result.messages[300].error, OutcomeUnknown)
    assert "earlier part" in result.messages[600].error.description
    assert len(sendmsgs(server)) == 2


def test_multi_recipient_chunk_confirmed_by_query_has_no_ids(server, client):
    server.on("sendmsg", Reply(drop=True))
    server.on("querymsg", "ID: one Status: 003")
    result = client.send(numbers(2), "hi")
    assert [(m.apimsgid, m.error) for m in result.messages] == [(None, None), (None, None)]


def test_chunk_climsgids_fit_32_characters():
    assert chunk_climsgid("abc", 0, 1) == "abc"
    long = "x" * 32
    derived = {chunk_climsgid(long, i, 34) for i in range(34)}
    assert len(derived) == 34
    assert all(len(d) <= 32 and d.isalnum() for d in derived)


# --- other commands -------------------------------------------------------------------------------


def test_query_cancel_charge(server, client):
    server.on("querymsg", "ID: m1 Status: 004\n")
    server.on("delmsg", "ID: m1 Status: 006\r\n")
    server.on("getmsgcharge", "apiMsgId: m1 charge: 0.3 status: 004")
    status = client.query("m1")
    assert (status.apimsgid, status.status, status.description) == (
        "m1",
        "004",
        "Received by recipient",
    )
    assert client.cancel(climsgid="c1").status == "006"
    assert server.calls("delmsg")[0].form()["climsgid"] == b"c1"
    charge = client.charge("m1")
    assert (charge.charge, charge.status) == (0.3, "004")
    with pytest.raises(Refused):
        client.query()
    with pytest.raises(Refused):
        client.query("a", climsgid="b")


def test_query_error_is_a_gateway_error_with_code(server, client):
    server.on("querymsg", "ERR: 103, Unknown API message ID")
    with pytest.raises(GatewayError) as caught:
        client.query("nope")
    assert caught.value.code == "103"
    assert caught.value.description == "Unknown API message ID"
    assert caught.value.explanation == explain_error("103")


def test_coverage(server, client):
    server.on(
        "routeCoverage",
        "OK: This prefix is currently supported. Messages sent to this prefix will be routed. "
        "Charge: 0.8",
        "ERR: This prefix is not currently supported. Messages sent to this prefix will fail. "
        "Please contact support for assistance.",
    )
    covered = client.coverage("+27 82 123 4567")
    assert (covered.msisdn, covered.routable, covered.charge) == (PHONE, True, 0.8)
    uncovered = client.coverage(PHONE)
    assert (uncovered.routable, uncovered.charge) == (False, None)
    calls = server.calls("routeCoverage")
    assert calls[0].path == "/utils/routeCoverage.php"
    assert calls[0].form()["msisdn"] == PHONE.encode()


def test_redeem(server, client):
    server.on("token_pay", "OK: 605")
    redeemed = client.redeem("1234 5678 1234 5678")
    assert (redeemed.ok, redeemed.code) == (True, "605")
    assert server.calls("token_pay")[0].form()["token"] == b"1234567812345678"
    with pytest.raises(Refused):
        client.redeem("123")


def test_batch_commands(server, client):
    server.on("startbatch", "ID: batch1")
    server.on("senditem", "ID: item1")
    server.on("quicksend", "ID: q2 To: 27821000001\nID: q1 To: 27821000000\n")
    server.on("endbatch", "OK")
    batch = client.start_batch("Hi #field1#, ä", sender="Acme")
    assert batch == "batch1"
    start = server.calls("startbatch")[0]
    assert start.path == "/http_batch/startbatch"
    assert start.raw_param("template") == b"Hi%20%23field1%23%2C%20%E4"
    assert start.form()["from"] == b"Acme"
    assert client.send_item(batch, "+27821234567", {"field1": "Renée"}) == "item1"
    assert server.calls("senditem")[0].form()["field1"] == "Renée".encode("latin-1")
    with pytest.raises(Refused, match="Unicode"):
        client.send_item(batch, PHONE, {"field1": "Zoë"})  # ë is Latin-1 but not GSM
    results = client.quicksend(batch, numbers(2))
    assert [(r.to, r.apimsgid) for r in results] == [("27821000000", "q1"), ("27821000001", "q2")]
    client.end_batch(batch)
    assert server.calls("endbatch")[0].form()["batch_id"] == b"batch1"


def test_unicode_batch_fields_are_hex(server, client):
    server.on("startbatch", "ID: b2")
    server.on("senditem", "ID: i")
    client.start_batch("Привет #field1#")
    client.send_item("b2", PHONE, {"1": "Ω"})
    assert server.calls("startbatch")[0].form()["unicode"] == b"1"
    assert server.calls("senditem")[0].form()["field1"] == b"03A9"
    with pytest.raises(Refused):
        client.send_item("b2", PHONE, {"name": "x"})


# --- review fixes: batch sends carry no climsgid, so nothing may be resent blindly ---------------


def test_quicksend_later_chunk_failure_keeps_earlier_results(server, client):
    server.on(
        "quicksend",
        "".join(f"ID: q{n} To: {n}\n" for n in numbers(MAX_RECIPIENTS)),
        Reply(drop=True),
    )
    results = client.quicksend("b1", numbers(2 * MAX_RECIPIENTS + 1))
    assert [r.to for r in results] == numbers(2 * MAX_RECIPIENTS + 1)
    assert results[0].apimsgid == f"q{numbers(1)[0]}" and results[0].error is None
    assert isinstance(results[300].error, OutcomeUnknown)
    assert "earlier part" in results[600].error.description
    assert len(server.calls("quicksend")) == 2


def test_quicksend_first_chunk_unknown_outcome_raises(server, client):
    server.on("quicksend", Reply(drop=True))
    with pytest.raises(OutcomeUnknown):
        client.quicksend("b1", numbers(2))
    assert len(server.calls("quicksend")) == 1


@pytest.mark.parametrize("command", ["senditem", "quicksend"])
def test_batch_sends_do_not_retry_901_blindly(server, client, sleeps, command):
    server.on(command, "ERR: 901, Internal error", "ID: again To: 27821000000")
    with pytest.raises(OutcomeUnknown):
        if command == "senditem":
            client.send_item("b1", PHONE, {"field1": "x"})
        else:
            client.quicksend("b1", numbers(1))
    assert len(server.calls(command)) == 1
    assert sleeps == []


def test_senditem_without_a_reply_is_outcome_unknown(server, client):
    server.on("senditem", Reply(drop=True))
    with pytest.raises(OutcomeUnknown, match="may or may not"):
        client.send_item("b1", PHONE, {"field1": "x"})
    assert len(server.calls("senditem")) == 1


def test_every_optional_section_4_parameter_reaches_the_wire(server, client):
    server.on("sendmsg", "ID: abc")
    client.send(
        PHONE,
        "hi",
        deliv_ack=1,
        req_feat=16384,
        queue=1,
        validity=60,
        mo=0,
        data="48656C6C6F",
        binary="00",
    )
    form = sendmsgs(server)[0].form()
    expected = {"deliv_ack": b"1", "req_feat": b"16384", "queue": b"1", "validity": b"60"}
    expected |= {"mo": b"0", "data": b"48656C6C6F", "binary": b"00"}
    assert {k: form[k] for k in expected} == expected


def test_ping_sends_the_session_id_only(server, client):
    client.ping()
    assert server.calls("ping")[0].form() == {"session_id": b"0123456789abcdef0123456789abcdef"}


def test_after_a_timeout_the_check_waits_for_the_gateway_to_finish(server, clock):
    # The gateway is still working on the timed-out sendmsg: until it commits, querymsg says
    # 104. Checking at once would resend, and the phone would get the SMS twice.
    committed = threading.Event()
    server.on("sendmsg", Reply("ID: late", hold=committed))

    def script(request: Request):
        if request.command == "querymsg":
            return "ID: late Status: 003" if committed.is_set() else "ERR: 104, Unknown"
        return None

    server.script = script
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # time passes: the gateway commits the message
        waits.append(seconds)
        committed.set()

    with ClickatellClient(server.url, "1", "u", "p", timeout=0.3, clock=clock, sleep=sleep) as c:
        result = c.send(PHONE, "hi", climsgid="slow1")
    assert result.messages[0].apimsgid == "late"
    assert len(sendmsgs(server)) == 1
    assert waits == [0.3]


@pytest.mark.parametrize(
    "kwargs", [{"sender": "٢٧٨٢"}, {"queue": "١"}, {"validity": "٦٠"}, {"deliv_time": "٥"}]
)
def test_non_ascii_digits_are_refused_before_any_call(server, client, kwargs):
    # str.isdigit() and \d accept Arabic-Indic digits; the gateway reads only 0-9.
    with pytest.raises(Refused):
        client.send(PHONE, "hi", **kwargs)
    with pytest.raises(Refused):
        client.redeem("١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦")
    assert server.requests == []


def test_new_climsgid_is_24_random_hex_digits() -> None:
    ids = [new_climsgid() for _ in range(200)]
    assert all(len(i) == 24 and int(i, 16) >= 0 for i in ids)
    assert len(set(ids)) == len(ids)
    # 96 random bits: no digit is fixed (a UUID4's version digit, the 13th, always is "4").
    assert all(len({i[position] for i in ids}) > 1 for position in range(24))
