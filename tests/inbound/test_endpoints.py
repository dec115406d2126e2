"""The callback endpoints over real HTTP (waitress on 127.0.0.1, the app's own WSGI routing):
credentials, account, size, malformed input, raw-byte decoding, durable storage before the 200,
duplicates, and 503 when the database cannot take the write."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from bot.gateway.clickatell_http.callbacks import decode_mo, parse_params
from bot.gateway.clickatell_http.decoder import ClickatellHttpCallbacks
from bot.inbound.endpoints import CallbackEndpoints, Credentials
from bot.serve import HttpServer
from bot.storage.sqlite import SqliteStorage
from bot.testing.callbacks import FORM, form, get, mo_params, post, status_params
from bot.web import MO_PATH, STATUS_PATH, WebApp

AUTH = ("clickatell", "s3cret-callback-password")
API_ID = "3123456"


@dataclass
class Endpoint:
    url: str
    storage: SqliteStorage
    http: requests.Session
    stored: list[int]

    def status_url(self) -> str:
        return self.url + STATUS_PATH

    def mo_url(self) -> str:
        return self.url + MO_PATH


def _serve(tmp_path: Path, *, busy_timeout: float = 30.0) -> Iterator[Endpoint]:
    storage = SqliteStorage(tmp_path / "db.sqlite3", busy_timeout=busy_timeout)
    stored: list[int] = []
    endpoints = CallbackEndpoints(
        storage,
        decoder=ClickatellHttpCallbacks(API_ID),
        credentials=Credentials(*AUTH),
        on_stored=lambda: stored.append(1),
    )
    server = HttpServer("127.0.0.1", 0, threads=4)
    server.serve(WebApp(endpoints.routes(STATUS_PATH, MO_PATH)))
    http = requests.Session()
    try:
        yield Endpoint(server.url, storage, http, stored)
    finally:
        http.close()
        server.stop()
        storage.close()


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[Endpoint]:
    yield from _serve(tmp_path)


@pytest.fixture
def impatient(tmp_path: Path) -> Iterator[Endpoint]:
    """The database gives up on a lock after 50 ms (instead of 30 s)."""
    yield from _serve(tmp_path, busy_timeout=0.05)


def status(apimsgid: str = "a" * 32, code: str = "004", **kw: str) -> dict[str, str]:
    return status_params(apimsgid, code, api_id=API_ID, **kw)


def test_status_is_stored_before_the_200(endpoint: Endpoint) -> None:
    answer = post(endpoint.http, endpoint.status_url(), status(), AUTH)
    assert (answer.status_code, answer.text) == (200, "OK\n")
    rows = endpoint.storage.inbox.unprocessed()
    assert [(r.kind, r.unique_key) for r in rows] == [("status", "a" * 32 + ":004")]
    assert endpoint.stored == [1]  # the processor was woken


def test_get_works_like_post(endpoint: Endpoint) -> None:
    assert get(endpoint.http, endpoint.status_url(), status(code="003"), AUTH).status_code == 200
    assert endpoint.storage.inbox.unprocessed()[0].unique_key.endswith(":003")


def test_a_duplicate_is_acknowledged_and_dropped(endpoint: Endpoint) -> None:
    first = post(endpoint.http, endpoint.status_url(), status(), AUTH)
    again = post(endpoint.http, endpoint.status_url(), status(), AUTH)
    assert first.status_code == again.status_code == 200
    assert again.text == "OK (duplicate)\n"
    assert len(endpoint.storage.inbox.unprocessed()) == 1


def test_same_message_with_another_status_is_not_a_duplicate(endpoint: Endpoint) -> None:
    for code in ("003", "004"):
        post(endpoint.http, endpoint.status_url(), status(code=code), AUTH)
    assert len(endpoint.storage.inbox.unprocessed()) == 2


def test_parameterless_status_call_is_the_url_check(endpoint: Endpoint) -> None:
    answer = endpoint.http.get(endpoint.status_url(), auth=AUTH)
    assert answer.status_code == 200
    assert endpoint.storage.inbox.unprocessed() == []


@pytest.mark.parametrize(
    "auth",
    [None, ("clickatell", "wrong"), ("someone", AUTH[1]), ("clickatell", "")],
    ids=["missing", "wrong-password", "wrong-user", "empty-password"],
)
def test_without_the_credentials_401(endpoint: Endpoint, auth: tuple[str, str] | None) -> None:
    for url in (endpoint.status_url(), endpoint.mo_url()):
        answer = post(endpoint.http, url, status(), auth)
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"].startswith("Basic realm=")
    assert endpoint.storage.inbox.unprocessed() == []


def test_garbled_authorization_header_is_401(endpoint: Endpoint) -> None:
    for header in ("Basic !!!", "Bearer abc", "Basic " + "QUJD", "Basic"):
        answer = endpoint.http.post(
            endpoint.status_url(), data=form(status()), headers={**FORM, "Authorization": header}
        )
        assert answer.status_code == 401, header


def test_another_accounts_api_id_is_403(endpoint: Endpoint) -> None:
    params = status_params("b" * 32, "004", api_id="999")
    assert post(endpoint.http, endpoint.status_url(), params, AUTH).status_code == 403
    params.pop("api_id")
    assert post(endpoint.http, endpoint.status_url(), params, AUTH).status_code == 403
    mo = mo_params("m1", "27821234567", "hi", api_id="999")
    assert post(endpoint.http, endpoint.mo_url(), mo, AUTH).status_code == 403
    assert endpoint.storage.inbox.unprocessed() == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"status": "4"}, "status must be 3 digits"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"apiMsgId": ""}, "apiMsgId"),
        ({"charge": "lots"}, "charge"),
    ],
)
def test_malformed_status_is_400_with_the_reason(
    endpoint: Endpoint, change: dict[str, str], reason: str
) -> None:
    answer = post(endpoint.http, endpoint.status_url(), {**status(), **change}, AUTH)
    assert answer.status_code == 400
    assert reason in answer.text
    assert endpoint.storage.inbox.unprocessed() == []


def test_malformed_mo_is_400(endpoint: Endpoint) -> None:
    bad_udh = {**mo_params("m1", "27821234567", "x", api_id=API_ID), "udh": "0500030102"}
    answer = post(endpoint.http, endpoint.mo_url(), bad_udh, AUTH)
    assert answer.status_code == 400 and "udh" in answer.text
    odd = mo_params("m2", "27821234567", b"\x04", charset="UTF-16BE", api_id=API_ID)
    assert post(endpoint.http, endpoint.mo_url(), odd, AUTH).status_code == 400


def test_body_over_64_kib_is_413(endpoint: Endpoint) -> None:
    params = {**status(), "padding": "x" * (64 * 1024)}
    assert post(endpoint.http, endpoint.status_url(), params, AUTH).status_code == 413
    assert endpoint.storage.inbox.unprocessed() == []


def test_other_methods_are_405(endpoint: Endpoint) -> None:
    answer = endpoint.http.put(endpoint.status_url(), data=form(status()), auth=AUTH)
    assert answer.status_code == 405
    assert "GET" in answer.headers["Allow"]


def test_utf16_text_is_decoded_from_the_raw_bytes(endpoint: Endpoint) -> None:
    text = "Привет <!channel> 📱"
    params = mo_params("mo-utf16", "27821234567", text, charset="UTF-16BE", api_id=API_ID)
    # Over GET the raw bytes ride in the query string (percent-encoded, not UTF-8).
    assert get(endpoint.http, endpoint.mo_url(), params, AUTH).status_code == 200
    (row,) = endpoint.storage.inbox.unprocessed()
    assert row.unique_key == "mo-utf16"
    assert decode_mo(parse_params(row.params)).text == text


def test_latin1_text_survives_a_post(endpoint: Endpoint) -> None:
    params = mo_params("mo-latin", "27821234567", "Grüße & <b>", api_id=API_ID)
    assert post(endpoint.http, endpoint.mo_url(), params, AUTH).status_code == 200
    (row,) = endpoint.storage.inbox.unprocessed()
    assert decode_mo(parse_params(row.params)).text == "Grüße & <b>"


def test_locked_database_answers_503_so_the_gateway_retries(impatient: Endpoint) -> None:
    blocker = sqlite3.connect(impatient.storage.path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        answer = post(impatient.http, impatient.status_url(), status(), AUTH)
        assert answer.status_code == 503
        assert answer.headers["Retry-After"]
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    # Once the database is free the retry is stored normally.
    assert post(impatient.http, impatient.status_url(), status(), AUTH).status_code == 200
    assert len(impatient.storage.inbox.unprocessed()) == 1


def test_no_password_configured_means_no_check(tmp_path: Path) -> None:
    with SqliteStorage(tmp_path / "open.sqlite3") as storage:
        endpoints = CallbackEndpoints(
            storage, decoder=ClickatellHttpCallbacks(None), credentials=Credentials(None, None)
        )
        captured: list[str] = []

        def start_response(status: str, headers: list[tuple[str, str]]) -> None:
            captured.append(status)

        environ = {
            "REQUEST_METHOD": "GET",
            "QUERY_STRING": form(status_params("c" * 32, "003", api_id="any")).decode(),
        }
        body = b"".join(endpoints.status(environ, start_response))
        assert captured == ["200 OK"] and body == b"OK\n"


# ---------------------------------------------------------------- group commit


def test_group_commit_stores_each_callback_once_under_concurrency(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from bot.inbound.endpoints import InboxWriter

    with SqliteStorage(tmp_path / "group.sqlite3") as storage:
        writer = InboxWriter(storage).start()
        try:
            keys = [f"k{i % 40}" for i in range(200)]  # every key five times, interleaved
            with ThreadPoolExecutor(16) as pool:
                results = list(pool.map(lambda k: writer.store("status", k, k.encode()), keys))
        finally:
            writer.stop()
        assert sum(results) == 40  # exactly one True per key, whatever the batching
        stored = {row.unique_key for row in storage.inbox.unprocessed(limit=1000)}
        assert stored == set(keys)


def test_duplicates_within_one_batch(tmp_path: Path) -> None:
    with SqliteStorage(tmp_path / "batch.sqlite3") as storage:
        assert storage.inbox.store("mo", "a", b"1") is True
        results = storage.inbox.store_many(
            [("mo", "a", b"1"), ("mo", "b", b"2"), ("status", "a", b"3"), ("mo", "b", b"2")]
        )
        assert results == [False, True, True, False]
        assert len(storage.inbox.unprocessed()) == 3


def test_writer_failure_answers_503(tmp_path: Path) -> None:
    from bot.inbound.endpoints import InboxWriter

    storage = SqliteStorage(tmp_path / "closed.sqlite3")
    writer = InboxWriter(storage).start()
    endpoints = CallbackEndpoints(
        storage,
        decoder=ClickatellHttpCallbacks(API_ID),
        credentials=Credentials(None, None),
        store=writer.store,
    )
    storage.close()  # the database is gone: nothing can be stored
    captured: list[str] = []
    environ = {"REQUEST_METHOD": "GET", "QUERY_STRING": form(status()).decode()}
    endpoints.status(environ, lambda status, headers: captured.append(status))
    writer.stop()
    assert captured == ["503 Service Unavailable"]
