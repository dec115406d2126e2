"""Security review of the callback endpoints, through the real app over loopback: credentials
(missing, wrong user, wrong password, garbled), the constant-time comparison, the account check
(api_id), and callbacks whose content is not what Clickatell sends."""

from __future__ import annotations

import base64
import hmac
from collections.abc import Callable
from typing import Any

import pytest
import requests

from bot.inbound import endpoints
from bot.testing.app import RunningApp
from bot.testing.callbacks import form, get, mo_params, post, status_params
from tests.security.support import raw_request

PATHS = ("/clickatell/status", "/clickatell/mo")


def _params(path: str, **overrides: str) -> dict[str, Any]:
    if path.endswith("status"):
        return {**status_params("b" * 32, "004"), **overrides}
    return {**mo_params("mo-auth-1", "27825550103", "hello"), **overrides}


def _stored(app: RunningApp) -> int:
    return app.state.inbox_total()


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# --------------------------------------------------------------------------- credentials


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize(
    "credentials",
    ["missing", "wrong user", "wrong password", "empty password", "both wrong"],
)
def test_callback_without_the_right_credentials_is_401(
    app: RunningApp, method: str, credentials: str
) -> None:
    user, password = app.callback_auth
    auth = {
        "missing": None,
        "wrong user": ("intruder", password),
        "wrong password": (user, password[:-1] + ("x" if password[-1] != "x" else "y")),
        "empty password": (user, ""),
        "both wrong": ("intruder", "guess"),
    }[credentials]
    send = get if method == "GET" else post
    for path in PATHS:
        answer = send(app.http, app.url + path, _params(path), auth)
        assert answer.status_code == 401, (path, answer.text)
        assert answer.headers["WWW-Authenticate"].startswith('Basic realm="')
        assert password not in answer.text
    # The URL check (no parameters) needs the credentials too: it is still a callback URL.
    assert send(app.http, app.url + PATHS[0], {}, auth).status_code == 401
    assert _stored(app) == 0


@pytest.mark.parametrize(
    "header",
    [
        "Basic",
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"no-colon-here").decode(),
        "Bearer abc",
        "Digest username=sandbox",
        "Basic " + base64.b64encode(b"\xff\xfe:\x00").decode(),
        "basic " + "A" * 5000,
    ],
)
def test_garbled_authorization_is_401_not_5xx(app: RunningApp, header: str) -> None:
    for path in PATHS:
        answer = raw_request(
            app.url, "POST", path.encode(), {"Authorization": header}, form(_params(path))
        )
        assert answer.status == 401, (header, answer)
        assert "www-authenticate" in answer.headers


def test_the_right_credentials_are_accepted(app: RunningApp) -> None:
    """The control for the refusals above: same requests, right credentials."""
    for path in PATHS:
        answer = post(app.http, app.url + path, _params(path), app.callback_auth)
        assert answer.status_code == 200, answer.text
    assert _stored(app) == 2


class CompareSpy:
    """hmac.compare_digest, recording what it compared."""

    def __init__(self) -> None:
        self.calls: list[tuple[bytes, bytes]] = []
        self.real: Callable[[Any, Any], bool] = hmac.compare_digest

    def __call__(self, given: Any, expected: Any) -> bool:
        self.calls.append((bytes(given), bytes(expected)))
        return self.real(given, expected)


@pytest.mark.parametrize(
    "given",
    ["right", "wrong user", "wrong password", "both wrong", "missing"],
)
def test_user_and_password_are_both_compared_in_constant_time(
    app: RunningApp, monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    """Timing-safe: both the user and the password go through hmac.compare_digest, on every
    request, whether or not the user matched (no early exit that would tell them apart)."""
    user, password = app.callback_auth
    spy = CompareSpy()
    monkeypatch.setattr(endpoints.hmac, "compare_digest", spy)
    sent_user = "intruder" if given in ("wrong user", "both wrong") else user
    sent_password = "guess" if given in ("wrong password", "both wrong") else password
    headers = {} if given == "missing" else {"Authorization": _basic(sent_user, sent_password)}
    answer = requests.post(
        app.url + PATHS[0],
        data=form(_params(PATHS[0])),
        headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
        timeout=10,
    )
    assert answer.status_code == (200 if given == "right" else 401)
    expected_user, expected_password = user.encode(), password.encode()
    compared = {expected for _, expected in spy.calls}
    assert expected_user in compared and expected_password in compared, spy.calls
    if given != "missing":
        assert (sent_user.encode(), expected_user) in spy.calls
        assert (sent_password.encode(), expected_password) in spy.calls
    # Nothing else compares the secrets: no `==` slipped in beside compare_digest.
    assert endpoints.Credentials(user, password).accept(headers.get("Authorization")) is (
        given == "right"
    )


def test_credentials_are_not_compared_with_equality(monkeypatch: pytest.MonkeyPatch) -> None:
    """With compare_digest answering "equal" for everything, any credentials pass: proof that
    the check's verdict comes from compare_digest alone."""
    monkeypatch.setattr(endpoints.hmac, "compare_digest", lambda a, b: True)
    check = endpoints.Credentials("clickatell", "s3cret")
    assert check.accept(_basic("someone", "else"))


# --------------------------------------------------------------------------- account (api_id)


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("api_id", ["12345", "", "sandbox ", "SANDBOX", "sandbox\x00", "sandbo"])
def test_another_accounts_api_id_is_403(app: RunningApp, method: str, api_id: str) -> None:
    send = get if method == "GET" else post
    for path in PATHS:
        answer = send(app.http, app.url + path, _params(path, api_id=api_id), app.callback_auth)
        # "sandbox " is the configured id with surrounding space, which is stripped: accepted.
        expected = 200 if api_id == "sandbox " else 403
        assert answer.status_code == expected, (path, api_id, answer.text)
    assert _stored(app) == (2 if api_id == "sandbox " else 0)


def test_repeated_api_id_cannot_smuggle_another_account(app: RunningApp) -> None:
    """The first value of a repeated name is the one checked AND the one decoded."""
    path = PATHS[0]
    body = b"api_id=12345&" + form(_params(path))
    answer = raw_request(
        app.url,
        "POST",
        path.encode(),
        {"Authorization": _basic(*app.callback_auth), "Content-Type": "x"},
        body,
    )
    assert answer.status == 403
    assert _stored(app) == 0


# --------------------------------------------------------------------------- content


@pytest.mark.parametrize("sender", ["abc", "+", "<!channel>", "--", "unknown", "27 82 abc"])
def test_mo_from_something_that_is_not_a_phone_number_is_400(app: RunningApp, sender: str) -> None:
    """An inbound SMS comes from a phone number; anything else is a malformed callback (it used
    to be accepted and posted as a conversation with an empty number)."""
    params = mo_params("mo-bad-sender", sender, "hello")
    answer = post(app.http, app.url + PATHS[1], params, app.callback_auth)
    assert answer.status_code == 400, answer.text
    assert "from" in answer.text
    assert _stored(app) == 0
