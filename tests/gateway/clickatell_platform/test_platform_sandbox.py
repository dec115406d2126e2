"""The sandbox's Platform mode over real HTTP (clickatell-platform.md §9): the three integrations'
paths beside the legacy API on one port, key checking, the reference's bodies, the 200-message
limit, statuses over time reported as JSON callbacks to the URLs exactly as given, the Portal's
quirks (duplicates, out of order), retries, `--rate-limit`, the magic numbers and the balance.

The sandbox runs on a fake clock with autorun off: time moves only when a test says so.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import unquote_to_bytes

import pytest
import requests

from bot.gateway.clickatell_http.sandbox import (
    NUMBER_DELIVERY_FAILS,
    NUMBER_ECHOES,
    NUMBER_NEVER_REPORTS,
    NUMBER_OPTED_OUT_AT_GATEWAY,
    NUMBER_OPTS_OUT,
    NUMBER_REPLIES_UNICODE,
    NUMBER_STAYS_AT_GATEWAY,
    NUMBER_UNROUTABLE,
    UNICODE_REPLY_TEXT,
    SandboxServer,
)
from bot.testing.clocks import ManualClock
from tests.support.sandbox_fixtures import Api, CallbackReceiver

KEY = "sandbox-key-1"
PHONE, OTHER = "27821234567", "27831234567"
TOKEN = "t0k3n"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    server = CallbackReceiver()  # the Portal sends no basic credentials
    yield server
    server.close()


def make(clock: ManualClock, receiver: CallbackReceiver, **options: object) -> SandboxServer:
    settings: dict[str, object] = {
        "clock": clock,
        "autorun": False,
        "callback_url": f"{receiver.url}/clickatell/status?token={TOKEN}",
        "mo_url": f"{receiver.url}/clickatell/mo?token={TOKEN}",
        "api_key": KEY,
        "quirk_every": 0,
        **options,
    }
    return SandboxServer(**settings)  # type: ignore[arg-type]


@pytest.fixture
def sandbox(clock: ManualClock, receiver: CallbackReceiver) -> Iterator[SandboxServer]:
    with make(clock, receiver) as server:
        yield server


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def one_api(http: requests.Session, sandbox: SandboxServer, *items: dict, key: str = KEY):
    return http.post(
        f"{sandbox.url}/v1/message", json={"messages": list(items)}, headers={"Authorization": key}
    )


def item(to: str, content: str = "Hello", **extra: str) -> dict[str, str]:
    return {"channel": "sms", "to": to, "content": content, **extra}


def events(receiver: CallbackReceiver, kind: str) -> list[dict]:
    return [json.loads(r.body) for r in receiver.accepted(f"/clickatell/{kind}?token={TOKEN}")]


def status_updates(receiver: CallbackReceiver) -> list[tuple[str, int, str]]:
    found = []
    for body in events(receiver, "status"):
        if "event" in body:
            (update,) = body["event"]["messageStatusUpdate"]
            found.append((update["messageId"], update["statusCode"], update["status"]))
        else:
            found.append((body["messageId"], body["statusCode"], body["status"]))
    return found


# --------------------------------------------------------------------------- keys and paths


def test_one_api_send_answers_202_with_the_reference_body(http, sandbox):
    answer = one_api(http, sandbox, item(PHONE, clientMessageId="c0ffee42"))
    assert answer.status_code == 202
    assert answer.headers["Content-Type"] == "application/json"
    body = answer.json()
    (entry,) = body["messages"]
    assert set(body) == {"messages", "error"} and body["error"] is None
    assert entry["accepted"] is True and entry["to"] == PHONE and entry["error"] is None
    assert len(entry["apiMessageId"]) == 32
    (message,) = sandbox.messages()
    assert (message.climsgid, message.charge) == ("c0ffee42", 1.0)


@pytest.mark.parametrize("key", ["", "wrong", f"Bearer {KEY}"])
def test_a_wrong_missing_or_bearer_key_is_the_401_of_each_generation(http, sandbox, key):
    headers = {"Authorization": key} if key else {}
    one = http.post(f"{sandbox.url}/v1/message", json={"messages": []}, headers=headers)
    rest = http.post(
        f"{sandbox.url}/messages", json={"to": [PHONE], "content": "x"}, headers=headers
    )
    query = f"apiKey={key}&to={PHONE}&content=x" if key else f"to={PHONE}&content=x"
    get = http.get(f"{sandbox.url}/messages/http/send?{query}")
    assert one.status_code == rest.status_code == get.status_code == 401
    assert one.json() == {
        "error": {"code": 1, "description": "Invalid or missing integration API Key"}
    }
    assert rest.json()["errorCode"] == get.json()["errorCode"] == 108
    assert rest.json()["messages"] == [] and sandbox.messages() == []


def test_any_non_empty_key_without_api_key_and_the_legacy_api_on_the_same_port(clock, receiver):
    with make(clock, receiver, api_key=None) as sandbox, requests.Session() as http:
        assert one_api(http, sandbox, item(PHONE), key="anything").status_code == 202
        legacy = Api(sandbox.url)
        legacy.login()
        assert legacy.call("getbalance") == "Credit: 99"  # one account, one balance
        legacy.close()


def test_other_paths_are_the_portals_404(http, sandbox):
    answer = http.get(f"{sandbox.url}/v1/nothing", headers={"Authorization": KEY})
    assert answer.status_code == 404
    assert answer.json() == {"error": {"code": 41, "description": "Resource does not exist"}}


def test_more_than_200_messages_is_error_22_and_nothing_is_sent(http, sandbox):
    items = [item(f"2782{n:07d}") for n in range(201)]
    answer = one_api(http, sandbox, *items)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == 22 and sandbox.messages() == []
    rest = http.post(
        f"{sandbox.url}/messages",
        json={"content": "x", "to": [f"2782{n:07d}" for n in range(201)]},
        headers={"Authorization": KEY},
    )
    assert (rest.status_code, rest.text) == (400, "Error")


# --------------------------------------------------------------------------- bodies


def test_refusals_are_400_alone_and_207_mixed(http, sandbox):
    alone = one_api(http, sandbox, item(NUMBER_UNROUTABLE))
    assert alone.status_code == 400
    assert alone.json()["messages"] == [
        {
            "error": {"code": 25, "description": "Invalid recipient address"},
            "accepted": False,
            "to": NUMBER_UNROUTABLE,
        }
    ]
    mixed = one_api(
        http, sandbox, item(PHONE), item("27999abcde"), item(NUMBER_OPTED_OUT_AT_GATEWAY)
    )
    assert mixed.status_code == 207
    entries = mixed.json()["messages"]
    assert [e["accepted"] for e in entries] == [True, False, False]
    assert [e.get("error") and e["error"]["code"] for e in entries] == [None, 23, 26]


def test_sms_integrations_answer_202_with_per_recipient_string_errors(http, sandbox):
    answer = http.post(
        f"{sandbox.url}/messages",
        json={"content": "Hi", "to": [PHONE, NUMBER_UNROUTABLE, NUMBER_OPTED_OUT_AT_GATEWAY]},
        headers={"Authorization": KEY},
    )
    assert answer.status_code == 202
    ok, unroutable, opted = answer.json()["messages"]
    assert ok["accepted"] is True and ok["error"] is None
    assert unroutable == {
        "apiMessageId": None,
        "accepted": False,
        "to": NUMBER_UNROUTABLE,
        "error": "Invalid destination address.",
        "errorCode": 105,
    }
    assert opted["errorCode"] == 122
    got = http.get(
        f"{sandbox.url}/messages/http/send?apiKey={KEY}&to={PHONE},{OTHER}&content=Hello+there"
    )
    assert got.status_code == 202 and len(got.json()["messages"]) == 2
    listed = http.get(
        f"{sandbox.url}/messages/http/send?apiKey={KEY}&to=%5B%27{PHONE}%27%5D&content=x"
    )
    assert listed.json()["messages"][0]["errorCode"] == 105  # a list's repr is no number


def test_balance_is_money_in_zar_one_per_part(http, sandbox):
    one_api(http, sandbox, item(PHONE, "x" * 200))  # two parts
    one = http.get(f"{sandbox.url}/v1/balance", headers={"Authorization": KEY})
    sms = http.get(f"{sandbox.url}/public-client/balance?apiKey={KEY}")
    assert one.json() == {"currency": "ZAR", "balance": 98.0}
    assert sms.json() == {"balance": 98.0, "currency": "ZAR"}


# --------------------------------------------------------------------------- statuses over time


def test_one_api_statuses_move_over_time_and_are_posted_as_json_with_the_token(
    http, sandbox, clock, receiver
):
    message_id = one_api(http, sandbox, item(PHONE, clientMessageId="c1")).json()["messages"][0][
        "apiMessageId"
    ]
    sandbox.run_due()
    assert status_updates(receiver) == [(message_id, 4, "SENT_TO_SUPPLIER")]
    sandbox.advance(1.0)
    assert status_updates(receiver)[-1] == (message_id, 5, "DEVICE_ACK")
    (first, _) = receiver.accepted()
    assert first.headers["Content-Type"] == "application/json"
    assert "Authorization" not in first.headers
    body = json.loads(first.body)
    assert body["integrationId"] and body["integrationName"]
    (update,) = body["event"]["messageStatusUpdate"]
    assert update["clientMessageId"] == "c1" and update["channel"] == "sms"
    assert update["timestamp"] == int(clock.now * 1000)
    query = http.get(f"{sandbox.url}/v1/message/{message_id}", headers={"Authorization": KEY})
    assert query.json() == {
        "sms": {"status": "DEVICE_ACK", "timestamp": int((clock.now + 1) * 1000)}
    }


def test_sms_integrations_report_flat_legacy_numbers(http, sandbox, receiver):
    answer = http.post(
        f"{sandbox.url}/messages",
        json={"content": "x", "to": [PHONE, NUMBER_DELIVERY_FAILS], "clientMessageId": "c2"},
        headers={"Authorization": KEY},
    )
    ok, failing = (e["apiMessageId"] for e in answer.json()["messages"])
    sandbox.run_due()
    sandbox.advance(1.0)
    assert sorted(status_updates(receiver)) == sorted(
        [
            (ok, 3, "DELIVERED_TO_GATEWAY"),
            (failing, 3, "DELIVERED_TO_GATEWAY"),
            (ok, 4, "RECEIVED_BY_RECIPIENT"),
            (failing, 7, "ERROR_DELIVERING_MESSAGE"),
        ]
    )
    flat = events(receiver, "status")[0]
    assert flat["clientMessageId"] == "c2" and flat["to"] in (PHONE, NUMBER_DELIVERY_FAILS)
    assert {"integrationName", "requestId", "from", "statusDescription", "timestamp"} <= set(flat)


def test_stays_at_gateway_and_never_reports(http, sandbox, receiver):
    entries = one_api(http, sandbox, item(NUMBER_STAYS_AT_GATEWAY), item(NUMBER_NEVER_REPORTS))
    stays, silent = (e["apiMessageId"] for e in entries.json()["messages"])
    sandbox.run_due()
    sandbox.advance(60.0)
    assert status_updates(receiver) == [(stays, 4, "SENT_TO_SUPPLIER")]
    query = http.get(f"{sandbox.url}/v1/message/{silent}", headers={"Authorization": KEY})
    assert query.json()["sms"]["status"] == "UNKNOWN"
    unknown = http.get(f"{sandbox.url}/v1/message/{'0' * 32}", headers={"Authorization": KEY})
    assert unknown.json()["status"] == "UNKNOWN" and "sms" not in unknown.json()


# --------------------------------------------------------------------------- replies


def reply_text(callback: dict) -> str:
    item = callback["event"]["moText"][0] if "event" in callback else callback
    raw = item["content"] if "event" in callback else item["text"]
    codec = "utf-16-be" if item["charset"] == "UTF-16BE" else "latin-1"
    return unquote_to_bytes(raw.replace("+", " ")).decode(codec)


def test_replies_come_whole_and_percent_encoded_in_their_charset(http, sandbox, receiver):
    one_api(http, sandbox, item(NUMBER_ECHOES, "Bonjour à tous"), item(NUMBER_REPLIES_UNICODE))
    http.post(
        f"{sandbox.url}/messages",
        json={"content": "x", "to": [NUMBER_OPTS_OUT], "from": "27820000000"},
        headers={"Authorization": KEY},
    )
    sandbox.run_due()
    sandbox.advance(1.0)
    sandbox.advance(1.0)
    replies = events(receiver, "mo")
    texts = sorted(reply_text(r) for r in replies)
    assert texts == sorted(["Got it: Bonjour à tous", UNICODE_REPLY_TEXT, "STOP"])
    unicode = next(
        r for r in replies if "event" in r and r["event"]["moText"][0]["charset"] == "UTF-16BE"
    )
    assert unicode["event"]["moText"][0]["content"].startswith("%04")
    flat = next(r for r in replies if "event" not in r)
    assert (flat["fromNumber"], flat["toNumber"]) == (NUMBER_OPTS_OUT, "27820000000")
    assert flat["replyMessageId"] and flat["messageId"]


# --------------------------------------------------------------------------- quirks and retries


def test_every_tenth_callback_comes_twice_and_every_tenth_message_out_of_order(
    clock, receiver, http
):
    with make(clock, receiver, quirk_every=2) as sandbox:
        first = one_api(http, sandbox, item(PHONE)).json()["messages"][0]["apiMessageId"]
        second = one_api(http, sandbox, item(OTHER)).json()["messages"][0]["apiMessageId"]
        sandbox.run_due()
        sandbox.advance(1.0)
        sandbox.advance(1.0)
    updates = status_updates(receiver)
    assert [u for u in dict.fromkeys(updates) if u[0] == first] == [
        (first, 4, "SENT_TO_SUPPLIER"),
        (first, 5, "DEVICE_ACK"),
    ]
    late = [u[1] for u in updates if u[0] == second]
    assert late[0] == 5 and late[-1] == 4  # its "sent" came after "delivered"
    assert len(updates) > len(set(updates))  # some callback came twice


def test_failed_callbacks_are_retried_after_1_2_4_8_16_seconds(clock, receiver, http):
    receiver.fail_with = [500, 302, 200]
    with make(clock, receiver) as sandbox:
        one_api(http, sandbox, item(NUMBER_STAYS_AT_GATEWAY))
        sandbox.run_due()
        sandbox.advance(1.0)
    attempts = [(r.answered) for r in receiver.requests]
    assert attempts == [500, 302]  # a redirect status counts as taken: not retried
    assert [d.attempt for d in sandbox.deliveries()] == [0, 1]


def test_rate_limit_refuses_past_n_messages_a_second(clock, receiver, http):
    with make(clock, receiver, rate_limit=2) as sandbox:
        mixed = one_api(http, sandbox, item(PHONE), item(OTHER), item("27841234567"))
        assert mixed.status_code == 207
        assert mixed.json()["messages"][2]["error"]["code"] == 43
        full = one_api(http, sandbox, item(PHONE))
        assert full.status_code == 429
        assert full.json() == {"messages": [], "error": {"code": 43, "description": "Rate limit"}}
        sms = http.post(
            f"{sandbox.url}/messages",
            json={"content": "x", "to": [PHONE]},
            headers={"Authorization": KEY},
        )
        assert (sms.status_code, sms.text) == (429, "Error")
        clock.now += 1
        assert one_api(http, sandbox, item(PHONE)).status_code == 202
        assert len(sandbox.messages()) == 3  # nothing refused was sent


def test_the_legacy_api_knows_the_new_magic_numbers(sandbox):
    api = Api(sandbox.url)
    api.login()
    reply = api.call(
        "sendmsg", {"to": f"{NUMBER_OPTED_OUT_AT_GATEWAY},{NUMBER_NEVER_REPORTS}", "text": "x"}
    )
    opted, silent = reply.splitlines()
    assert opted == f"ERR: 122, Destination mobile opted out To: {NUMBER_OPTED_OUT_AT_GATEWAY}"
    apimsgid = silent.split()[1]
    sandbox.advance(30)
    assert api.call("querymsg", {"apimsgid": apimsgid}) == f"ID: {apimsgid} Status: 001"
    api.close()
