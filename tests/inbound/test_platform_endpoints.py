"""The callback endpoints taking the Clickatell Portal's callbacks over real HTTP (waitress, the
app's own routing): `?token=` or basic credentials, captured JSON bodies by POST and the query
form by GET, every event stored before the 200, duplicates, and the three charsets decoded from
the raw bytes (`tenía`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from bot.gateway.base import InboundMessage, StatusReport
from bot.gateway.clickatell_platform import PlatformCallbacks
from bot.inbound.endpoints import CallbackEndpoints, Credentials
from bot.serve import HttpServer
from bot.storage.sqlite import SqliteStorage
from bot.web import MO_PATH, STATUS_PATH, WebApp

TOKEN = "tok-3f9a8c"
AUTH = ("clickatell", "basic-password")
STATUS = (
    b'{"integrationId":"fa8090815f05d5ed015f0b5b56080cd2","integrationName":"My integration",'
    b'"event":{"messageStatusUpdate":[{"channel":"sms","messageId":'
    b'"77fb29998253415fa5d66971d519d362","clientMessageId":"c0ffee42","timestamp":1506607698000,'
    b'"statusCode":5,"status":"DEVICE_ACK"}]}}'
)
UTF16_MO = (
    b'{"integrationName":"My integration","messageId":"id1002","replyMessageId":"5d8c0a41",'
    b'"fromNumber":"27821234567","toNumber":"27820000000","timestamp":1516217711000,'
    b'"text":"%00t%00e%00n%00%ED%00a","charset":"UTF-16BE","udh":"","network":"","keyword":""}'
)


@dataclass
class Endpoint:
    url: str
    storage: SqliteStorage
    http: requests.Session

    def status(self, query: str = f"token={TOKEN}") -> str:
        return f"{self.url}{STATUS_PATH}?{query}"

    def mo(self, query: str = f"token={TOKEN}") -> str:
        return f"{self.url}{MO_PATH}?{query}"

    def stored(self) -> list:
        decoder = PlatformCallbacks()
        return [
            decoder.decode_stored(row.kind, row.params) for row in self.storage.inbox.unprocessed()
        ]


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[Endpoint]:
    storage = SqliteStorage(tmp_path / "db.sqlite3")
    endpoints = CallbackEndpoints(
        storage, decoder=PlatformCallbacks(), credentials=Credentials(*AUTH, TOKEN)
    )
    server = HttpServer("127.0.0.1", 0, threads=4)
    server.serve(WebApp(endpoints.routes(STATUS_PATH, MO_PATH)))
    with requests.Session() as http:
        try:
            yield Endpoint(server.url, storage, http)
        finally:
            server.stop()
            storage.close()


def test_a_one_api_status_with_the_token_is_stored_before_the_200(endpoint: Endpoint) -> None:
    answer = endpoint.http.post(
        endpoint.status(), data=STATUS, headers={"Content-Type": "application/json"}
    )
    assert (answer.status_code, answer.text) == (200, "OK\n")
    (row,) = endpoint.storage.inbox.unprocessed()
    assert row.unique_key == "77fb29998253415fa5d66971d519d362:5:1506607698000"
    assert TOKEN.encode() not in row.params
    (report,) = endpoint.stored()
    assert isinstance(report, StatusReport) and report.client_id == "c0ffee42"


@pytest.mark.parametrize(
    ("query", "auth", "expected"),
    [
        ("", None, 401),
        ("token=wrong", None, 401),
        (f"token={TOKEN}x", None, 401),
        (f"token={TOKEN}", None, 200),
        ("", AUTH, 200),  # basic credentials work too
        ("", ("clickatell", "wrong"), 401),
    ],
)
def test_the_token_or_basic_credentials(endpoint: Endpoint, query, auth, expected) -> None:
    answer = endpoint.http.post(endpoint.status(query), data=STATUS, auth=auth)
    assert answer.status_code == expected
    if expected == 401:
        assert endpoint.storage.inbox.count() == 0


def test_the_same_event_twice_is_stored_once(endpoint: Endpoint) -> None:
    first = endpoint.http.post(endpoint.status(), data=STATUS)
    again = endpoint.http.post(endpoint.status(), data=STATUS)
    assert (first.text, again.text) == ("OK\n", "OK (duplicate)\n")
    assert endpoint.storage.inbox.count() == 1


def test_tenia_from_utf16be_inside_json_and_from_latin1_in_a_get(endpoint: Endpoint) -> None:
    posted = endpoint.http.post(endpoint.mo(), data=UTF16_MO)
    query = (
        f"token={TOKEN}&replyMessageId=r2&fromNumber=27821234567&toNumber=27820000000"
        "&timestamp=1516217711000&text=ten%EDa&charset=ISO-8859-1"
    )
    fetched = endpoint.http.get(endpoint.mo(query))
    assert posted.status_code == fetched.status_code == 200
    replies = endpoint.stored()
    assert [type(r) for r in replies] == [InboundMessage, InboundMessage]
    assert [r.text for r in replies] == ["tenía", "tenía"]


def test_several_events_in_one_body_are_stored_together(endpoint: Endpoint) -> None:
    body = json.dumps(
        {
            "event": {
                "messageStatusUpdate": [
                    {"messageId": "m1", "statusCode": 4, "timestamp": 1506607698000},
                    {"messageId": "m1", "statusCode": 5, "timestamp": 1506607699000},
                ],
                "moText": [
                    {
                        "messageId": "r1",
                        "from": "27821234567",
                        "timestamp": 1506607700000,
                        "content": "On my way",
                    }
                ],
                "someFutureEvent": [{"x": 1}],
            },
            "someFutureField": True,
        }
    )
    answer = endpoint.http.post(endpoint.status(), data=body)
    assert answer.status_code == 200
    assert endpoint.storage.inbox.count() == 4  # the unknown event type is stored too


def test_the_url_check_and_malformed_bodies(endpoint: Endpoint) -> None:
    assert endpoint.http.get(endpoint.status()).status_code == 200
    assert endpoint.http.post(endpoint.status(), data=b"{}").status_code == 200
    broken = endpoint.http.post(endpoint.status(), data=b'{"event": [')
    assert broken.status_code == 400 and broken.text.startswith("Bad callback")
    assert endpoint.storage.inbox.count() == 0


@pytest.mark.parametrize(
    "body",
    [
        b'{"messageId":"\\ud800","statusCode":5,"timestamp":1}',  # a lone surrogate
        b'{"messageId":"a","statusCode":5,"timestamp":"0001-01-01T00:00:00+14:00"}',
        b'{"messageId":"a","statusCode":5,"timestamp":"9999-12-31T23:59:59-14:00"}',
    ],
    ids=["lone-surrogate", "before-year-1", "after-year-9999"],
)
def test_malformed_json_callbacks_are_400_and_not_stored(endpoint: Endpoint, body: bytes) -> None:
    answer = endpoint.http.post(
        endpoint.status(), data=body, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert answer.status_code == 400, answer.text
    assert endpoint.stored() == []


def test_a_query_time_out_of_range_is_400(endpoint: Endpoint) -> None:
    query = f"token={TOKEN}&messageId=a&statusCode=5&timestamp=0001-01-01T00:00:00%2B14:00"
    answer = endpoint.http.get(endpoint.status(query), timeout=10)
    assert answer.status_code == 400, answer.text
