"""The Portal client against a scripted server replaying the reference's bodies byte for byte
(clickatell-platform.md §3, §4): every response shape of each integration type, the repeats of
what was refused for now, and the unknown outcomes that are never repeated.

Waits are recorded, never slept: the client's `sleep` is injected.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator

import pytest

from bot.gateway.base import GatewayError, NotSent, OptedOut, OutcomeUnknown, Unavailable
from bot.gateway.clickatell_platform.client import KeyRefused, PlatformClient
from bot.gateway.clickatell_platform.gateway import ClickatellPlatformGateway
from bot.gateway.clickatell_platform.integrations import BY_NAME, IntegrationName, Outgoing
from bot.testing.gateway import Reply, ScriptedGateway

KEY = "KEYabc123"
A, B = "2799900001", "27999abcde"
JSON = "application/json"

# §3, byte for byte.
ONE_202 = (
    b'{"messages":[{"apiMessageId":"77fb29998253415fa5d66971d519d362","accepted":true,'
    b'"to":"2799900001","error":null}],"error":null}'
)
ONE_207 = (
    b'{"messages":[{"apiMessageId":"02ca1a2b3c","accepted":true,"to":"2799900001","error":null},'
    b'{"error":{"code":23,"description":"Invalid or missing parameter: to ."},"accepted":false,'
    b'"to":"27999abcde"}],"error":null}'
)
ONE_400 = (
    b'{"messages":[{"error":{"code":23,"description":"Invalid or missing parameter: to ."},'
    b'"accepted":false,"to":"27999abcde"}],"error":null}'
)
ONE_401 = b'{"error":{"code":1,"description":"Invalid or missing integration API Key"}}'
SMS_202 = (
    b'{"messages":[{"apiMessageId":"id1002","accepted":true,"to":"12067799299","error":null}],'
    b'"error":null}'
)
SMS_REFUSED = (
    b'{"messages":[{"apiMessageId":null,"accepted":false,"to":"27111111111",'
    b'"error":"Invalid destination address."}],"error":null}'
)
SMS_200_EMPTY = (
    b'{"messages":[],"error":"Two-Way integration error - From number is not related to '
    b'integration"}'
)
SMS_108 = (
    b'{"messages":[],"errorCode":108,"error":"Invalid or missing integration API Key.",'
    b'"errorDescription":"The integration API key is either incorrect or has not been included '
    b'in the API call."}'
)


def json_reply(body: bytes, status: int = 202, **kw: object) -> Reply:
    return Reply(body, status=status, content_type=JSON, **kw)  # type: ignore[arg-type]


@pytest.fixture
def server() -> Iterator[ScriptedGateway]:
    with ScriptedGateway() as scripted:
        yield scripted


@pytest.fixture
def sleeps() -> list[float]:
    return []


def client_for(
    server: ScriptedGateway, sleeps: list[float], name: IntegrationName = "one", timeout=2.0
) -> PlatformClient:
    return PlatformClient(
        server.url, KEY, BY_NAME[name], timeout=timeout, sleep=sleeps.append, jitter=lambda: 0.5
    )


def out(*numbers: str) -> list[Outgoing]:
    return [Outgoing(n, f"cid{i}") for i, n in enumerate(numbers)]


# --------------------------------------------------------------------------- requests


def test_one_api_posts_one_json_item_per_recipient_with_the_bare_key(server, sleeps):
    server.on("message", json_reply(ONE_202))
    with client_for(server, sleeps) as client:
        (sent,) = client.send(out(A), "Hello tenía", "27820000000")
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/v1/message")
    assert request.headers["Authorization"] == KEY  # never "Bearer"
    assert request.headers["Content-Type"].startswith("application/json")
    assert request.headers["Accept"] == JSON
    assert json.loads(request.body.decode("utf-8")) == {
        "messages": [
            {
                "channel": "sms",
                "to": A,
                "content": "Hello tenía",
                "from": "27820000000",
                "clientMessageId": "cid0",
            }
        ]
    }
    assert (sent.message_id, sent.client_id, sent.error) == (
        "77fb29998253415fa5d66971d519d362",
        "cid0",
        None,
    )


def test_sms_rest_posts_the_recipients_as_a_list_with_one_client_id(server, sleeps):
    server.on("messages", json_reply(SMS_202))
    with client_for(server, sleeps, "rest") as client:
        client.send([Outgoing("12067799299", "shared1")], "Hi", None)
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/messages")
    assert request.headers["Authorization"] == KEY
    body = json.loads(request.body)
    assert body == {"content": "Hi", "to": ["12067799299"], "clientMessageId": "shared1"}


def test_sms_http_sends_one_get_with_the_key_and_utf8_in_the_query(server, sleeps):
    server.on("send", json_reply(SMS_202))
    with client_for(server, sleeps, "http") as client:
        client.send([Outgoing("12067799299", "c1")], "Unicode ☺ now", "27820000000")
    (request,) = server.requests
    assert (request.method, request.path, request.body) == ("GET", "/messages/http/send", b"")
    assert "Authorization" not in request.headers
    assert (
        request.query
        == (f"apiKey={KEY}&to=12067799299&content=Unicode+%E2%98%BA+now&from=27820000000").encode()
    )


# --------------------------------------------------------------------------- answers


def test_a_207_gives_each_recipient_its_own_fate(server, sleeps):
    server.on("message", json_reply(ONE_207, status=207))
    with client_for(server, sleeps) as client:
        ok, refused = client.send(out(A, B), "x", None)
    assert ok.message_id == "02ca1a2b3c" and ok.error is None
    assert refused.message_id is None and refused.error is not None
    assert refused.error.code == "23" and "parameter" in refused.error.explanation
    assert sleeps == [] and len(server.requests) == 1  # a permanent refusal is not repeated


def test_a_400_with_messages_refuses_each_and_a_401_refuses_the_key(server, sleeps):
    server.on("message", json_reply(ONE_400, status=400), json_reply(ONE_401, status=401))
    with client_for(server, sleeps) as client:
        (refused,) = client.send(out(B), "x", None)
        assert refused.error is not None and refused.error.code == "23"
        with pytest.raises(KeyRefused) as caught:
            client.send(out(A), "x", None)
    assert caught.value.code == "1"
    assert "CLICKATELL_API_KEY" in caught.value.explanation
    assert "CLICKATELL_INTEGRATION" in caught.value.explanation
    assert KEY not in str(caught.value) and KEY not in caught.value.explanation


def test_sms_accepted_false_with_a_string_error_and_an_empty_200_with_an_error(server, sleeps):
    server.on("messages", json_reply(SMS_REFUSED), json_reply(SMS_200_EMPTY, status=200))
    with client_for(server, sleeps, "rest") as client:
        (refused,) = client.send([Outgoing("27111111111", "c")], "x", None)
        (whole,) = client.send([Outgoing("27111111111", "d")], "x", None)
    assert refused.error is not None and refused.error.code is None
    assert "Invalid destination address" in refused.error.explanation
    assert whole.message_id is None and whole.error is not None
    assert "From number is not related" in whole.error.explanation


def test_the_sms_108_body_and_plain_text_errors(server, sleeps):
    server.on(
        "messages",
        json_reply(SMS_108, status=401),
        Reply("Error", status=400),
        Reply("Error", status=401),
    )
    with client_for(server, sleeps, "rest") as client:
        with pytest.raises(KeyRefused) as key:
            client.send([Outgoing(A, "c")], "x", None)
        (bad,) = client.send([Outgoing(A, "c")], "x", None)
        with pytest.raises(KeyRefused) as bare:
            client.send([Outgoing(A, "c")], "x", None)
    assert key.value.code == "108"
    assert bad.error is not None and "HTTP 400: Error" in bad.error.explanation
    assert bare.value.code is None and "CLICKATELL_API_KEY" in bare.value.explanation
    assert sleeps == []


def test_opted_out_is_its_own_error_in_both_code_spaces(server, sleeps):
    one = b'{"messages":[{"error":{"code":26,"description":"Recipient opted out"},'
    one += b'"accepted":false,"to":"27825550106"}],"error":null}'
    sms = b'{"messages":[{"apiMessageId":null,"accepted":false,"to":"27825550106",'
    sms += b'"error":"Destination mobile opted out.","errorCode":122}],"error":null}'
    server.on("message", json_reply(one, status=400))
    server.on("messages", json_reply(sms))
    with client_for(server, sleeps) as one_api, client_for(server, sleeps, "rest") as rest:
        (first,) = one_api.send(out("27825550106"), "x", None)
        (second,) = rest.send(out("27825550106"), "x", None)
    assert isinstance(first.error, OptedOut) and first.error.code == "26"
    assert isinstance(second.error, OptedOut) and second.error.code == "122"


# --------------------------------------------------------------------------- repeats


def test_only_the_messages_a_207_refused_with_43_are_repeated_after_retry_after(server, sleeps):
    mixed = (
        b'{"messages":[{"apiMessageId":"m1","accepted":true,"to":"2799900001","error":null},'
        b'{"error":{"code":43,"description":"Rate limit"},"accepted":false,"to":"2799900002"}],'
        b'"error":null}'
    )
    later = b'{"messages":[{"apiMessageId":"m2","accepted":true,"to":"2799900002"}],"error":null}'
    server.on(
        "message",
        json_reply(mixed, status=207, headers=(("Retry-After", "2"),)),
        json_reply(later),
    )
    with client_for(server, sleeps) as client:
        first, second = client.send(out(A, "2799900002"), "x", None)
    assert (first.message_id, second.message_id) == ("m1", "m2")
    again = json.loads(server.requests[1].body)["messages"]
    assert [(m["to"], m["clientMessageId"]) for m in again] == [("2799900002", "cid1")]
    assert sleeps == [2.0]


def test_429_and_503_are_backed_off_1_2_4_seconds_then_reported(server, sleeps):
    limited = json_reply(b'{"messages":[],"error":{"code":43,"description":"Rate limit"}}', 429)
    busy = json_reply(b'{"messages":[],"error":{"code":19,"description":"Internal error"}}', 503)
    server.on("message", limited, busy, Reply("Error", status=429), limited)
    with client_for(server, sleeps) as client, pytest.raises(Unavailable) as caught:
        client.send(out(A), "x", None)
    assert len(server.requests) == 4
    assert sleeps == pytest.approx([1.1, 2.2, 4.4])  # 1, 2, 4 s plus jitter (0.5 × 20 %)
    assert caught.value.code == "43"


def test_a_long_retry_after_is_capped_at_30_seconds(server, sleeps):
    server.on(
        "messages",
        Reply("Error", status=429, headers=(("Retry-After", "600"),)),
        json_reply(SMS_202),
    )
    with client_for(server, sleeps, "rest") as client:
        (sent,) = client.send([Outgoing("12067799299", "c")], "x", None)
    assert sent.message_id == "id1002" and sleeps == [30.0]


# --------------------------------------------------------------------------- unknown outcomes


@pytest.mark.parametrize(
    "reply",
    [
        Reply(b"", status=500),
        Reply(b"<html>Bad gateway</html>", status=502),
        Reply(b"", status=504),
        json_reply(b'{"messages":[],"error":{"code":18,"description":"Internal error"}}', 500),
        json_reply(b'{"messages":[],"error":{"code":18,"description":"Internal error"}}', 200),
        Reply(b"<html>ok</html>", status=202),
        Reply(b"", drop=True),
    ],
    ids=["500", "502", "504", "18-on-500", "18-on-200", "unreadable-2xx", "dropped"],
)
def test_anything_that_may_have_been_taken_is_unknown_and_never_repeated(server, sleeps, reply):
    server.on("message", reply)
    with client_for(server, sleeps) as client, pytest.raises(OutcomeUnknown) as caught:
        client.send(out(A), "x", None)
    assert len(server.requests) == 1 and sleeps == []
    assert "not sent again" in caught.value.explanation and "cid0" in caught.value.explanation


def test_no_answer_within_the_timeout_is_unknown(server, sleeps):
    release = threading.Event()
    server.on("message", json_reply(ONE_202, hold=release))
    try:
        with client_for(server, sleeps, timeout=0.2) as client, pytest.raises(OutcomeUnknown):
            client.send(out(A), "x", None)
    finally:
        release.set()
    assert len(server.requests) == 1


def test_a_per_message_18_is_unknown_for_that_message_alone(server, sleeps):
    body = (
        b'{"messages":[{"apiMessageId":"m1","accepted":true,"to":"2799900001"},'
        b'{"error":{"code":18,"description":"Internal error"},"accepted":false,'
        b'"to":"2799900002"}],"error":null}'
    )
    server.on("message", json_reply(body, status=207))
    with client_for(server, sleeps) as client:
        ok, unsure = client.send(out(A, "2799900002"), "x", None)
    assert ok.message_id == "m1" and isinstance(unsure.error, OutcomeUnknown)
    assert len(server.requests) == 1


def test_a_refused_connection_is_not_sent_and_tried_again(sleeps):
    with ScriptedGateway() as gone:
        url = gone.url
    client = PlatformClient(url, KEY, BY_NAME["one"], timeout=1, sleep=sleeps.append)
    with client, pytest.raises(NotSent):
        client.send(out(A), "x", None)
    assert len(sleeps) == 3


# --------------------------------------------------------------------------- queries


def test_status_and_balance_queries(server, sleeps):
    server.script = lambda request: (
        json_reply(b'{"sms":{"status":"DEVICE_ACK","timestamp":1506607698000}}', 200)
        if request.path.startswith("/v1/message/")
        else json_reply(b'{"currency":"ZAR","balance":2192.4}', 200)
    )
    server.on("balance", Reply("", status=503))  # a query repeats every transient failure
    with client_for(server, sleeps) as client:
        assert client.balance() == (2192.4, "ZAR")
        assert client.query("77fb29998253415fa5d66971d519d362") == "DEVICE_ACK"
    paths = [r.path for r in server.requests]
    assert paths == ["/v1/balance", "/v1/balance", "/v1/message/77fb29998253415fa5d66971d519d362"]
    assert all(r.headers["Authorization"] == KEY for r in server.requests)


def test_a_query_for_a_message_the_portal_does_not_know_is_state_unknown(server, sleeps):
    server.on("1", json_reply(b'{"status":"UNKNOWN","timestamp":1506607698000}', 200))
    gateway = ClickatellPlatformGateway(client_for(server, sleeps))
    found = gateway.query("1")
    assert found.status.state.value == "unknown" and found.status.code == "UNKNOWN"


def test_the_sms_integrations_balance_carries_the_key_as_each_requires(server, sleeps):
    server.script = lambda r: json_reply(b'{"balance":1267.92865,"currency":"ZAR"}', 200)
    with client_for(server, sleeps, "rest") as rest, client_for(server, sleeps, "http") as http:
        assert rest.balance() == (1267.92865, "ZAR")
        assert http.balance() == (1267.92865, "ZAR")
    by_header, by_query = server.requests
    assert by_header.path == by_query.path == "/public-client/balance"
    assert by_header.headers["Authorization"] == KEY and by_header.query == b""
    assert "Authorization" not in by_query.headers and by_query.query == f"apiKey={KEY}".encode()


def test_a_failed_balance_is_a_gateway_error_in_plain_words(server, sleeps):
    server.on("balance", json_reply(ONE_401, status=401))
    with client_for(server, sleeps) as client, pytest.raises(GatewayError) as caught:
        client.balance()
    assert caught.value.code == "1" and "CLICKATELL_API_KEY" in caught.value.explanation


def test_the_key_in_an_sms_http_query_never_reaches_a_log(server, sleeps, caplog):
    server.on("send", json_reply(SMS_202))
    caplog.set_level(logging.DEBUG)
    with client_for(server, sleeps, "http") as client:
        client.send([Outgoing("12067799299", "c1")], "Hi", None)
    assert "/messages/http/send?apiKey=***&to=12067799299" in caplog.text  # urllib3's line
    assert KEY not in caplog.text
