"""Property: whatever arrives at /clickatell/status and /clickatell/mo of the real app over
loopback — any bytes in any parameter, any charset value, huge fields, repeated keys, GET or POST,
odd content types — is answered 200, 400, 401, 403 or 413 with a short plain-text reason (never
a 5xx or a traceback), and nothing the endpoints accepted makes a background worker fail."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bot.testing.app import RunningApp, running_app
from bot.testing.waiting import wait_for
from tests.security.support import ErrorLog, RawResponse, raw_request

ALLOWED = {200, 400, 401, 403, 413}
MAX_BODY = 64 * 1024

CHARSETS = [
    "ISO-8859-1", "UTF-16BE", "utf-16", "UCS-2", "UTF-8", "latin1", "", "EBCDIC", "utf-32",
    "UTF-16LE", "x" * 300, "ISO-8859-1\x00", "utf-16; q=1", "\xff\xfe", "..",
]  # fmt: skip
CONTENT_TYPES = [
    "application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=utf-16",
    "application/json", "text/plain", "multipart/form-data; boundary=xyz", "", "*/*",
    "application/x-www-form-urlencoded\x7f", "image/png",
]  # fmt: skip
STATUS_NAMES = ["api_id", "apiMsgId", "cliMsgId", "to", "from", "timestamp", "status", "charge"]
MO_NAMES = ["api_id", "moMsgId", "from", "to", "timestamp", "text", "charset", "udh", "network"]


@dataclass(frozen=True)
class Attempt:
    path: str
    method: str
    pairs: tuple[tuple[bytes, bytes], ...]
    raw_tail: bytes  # appended to the form unencoded: any bytes at all
    content_type: str
    auth: str  # "good", "none", "wrong"

    def form(self) -> bytes:
        encoded = b"&".join(
            quote_from_bytes(k, safe="").encode() + b"=" + quote_from_bytes(v, safe="").encode()
            for k, v in self.pairs
        )
        return encoded + self.raw_tail


def _valid(kind: str, now: datetime, unique: str) -> dict[bytes, bytes]:
    """A well-formed callback to start mutating from (`unique`: its message ID)."""
    if kind == "status":
        values = {
            "api_id": "sandbox", "apiMsgId": unique, "cliMsgId": "", "to": "27825550103",
            "from": "27825550199", "timestamp": str(int(now.timestamp())), "status": "004",
            "charge": "0.300000",
        }  # fmt: skip
    else:
        local = now + timedelta(hours=2)
        values = {
            "api_id": "sandbox", "moMsgId": unique, "from": "27825550103",
            "to": "27825550199", "timestamp": local.strftime("%Y-%m-%d %H:%M:%S"),
            "text": "Hello", "charset": "ISO-8859-1", "udh": "",
        }  # fmt: skip
    return {k.encode(): v.encode("latin-1") for k, v in values.items()}


field_bytes = st.one_of(
    st.binary(max_size=40),
    st.text(max_size=20).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from([c.encode("latin-1") for c in CHARSETS]),
    st.sampled_from([b"", b"004", b"0", b"-1", b"nan", b"inf", b"1e400", b"99999999999"]),
    st.sampled_from([b"0500030A0201", b"06080400010201", b"050003000000", b"05", b"zz", b"0"]),
    st.sampled_from([b"2024-02-30 10:00:00", b"9999-12-31 23:59:59", b"1970-01-01 00:00:00"]),
    st.integers(1, 70_000).map(lambda n: b"x" * n),  # huge: some beyond 64 KiB
)


@st.composite
def attempts(draw: st.DrawFn) -> Attempt:
    kind = draw(st.sampled_from(["status", "mo"]))
    names = STATUS_NAMES if kind == "status" else MO_NAMES
    params = _valid(kind, datetime.now(UTC), draw(st.uuids()).hex)
    for name in draw(st.lists(st.sampled_from(names), max_size=4, unique=True)):
        if draw(st.booleans()):
            params[name.encode()] = draw(field_bytes)
        else:
            params.pop(name.encode(), None)
    pairs = list(params.items())
    if draw(st.booleans()):  # repeated keys, in front (first value wins) or behind
        repeats = [(draw(st.sampled_from(names)).encode(), draw(field_bytes)) for _ in range(2)]
        pairs = repeats + pairs if draw(st.booleans()) else pairs + repeats
    if draw(st.integers(0, 9)) == 0:
        pairs = []  # parameterless: Clickatell's URL check
    return Attempt(
        path=f"/clickatell/{kind}",
        method=draw(st.sampled_from(["GET", "POST"])),
        pairs=tuple(pairs),
        raw_tail=draw(st.sampled_from([b"", b"&"]) | st.binary(max_size=30).map(b"&".__add__)),
        content_type=draw(st.sampled_from(CONTENT_TYPES)),
        auth=draw(st.sampled_from(["good", "good", "good", "none", "wrong"])),
    )


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    with running_app(tmp_path_factory.mktemp("fuzz-callbacks")) as harness:
        yield harness


def _authorization(app: RunningApp, which: str) -> dict[str, str]:
    user, password = app.callback_auth
    if which == "none":
        return {}
    if which == "wrong":
        password = password + "x"
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _send(app: RunningApp, attempt: Attempt) -> RawResponse:
    headers = _authorization(app, attempt.auth)
    form = attempt.form()
    if attempt.method == "GET":
        target = attempt.path.encode() + (b"?" + _request_target_safe(form) if form else b"")
        return raw_request(app.url, "GET", target, headers)
    headers["Content-Type"] = attempt.content_type
    return raw_request(app.url, "POST", attempt.path.encode(), headers, form)


def _request_target_safe(query: bytes) -> bytes:
    """The query as raw bytes, except what would end the request line or the target (control
    bytes, space, '#'), which is percent-encoded."""
    return b"".join(
        b"%%%02X" % byte if byte <= 0x20 or byte in b"\x7f#" else bytes([byte]) for byte in query
    )


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(attempt=attempts())
def test_any_callback_gets_a_4xx_or_200_never_a_5xx(fuzz_app: RunningApp, attempt: Attempt) -> None:
    state = fuzz_app.state
    with ErrorLog().installed() as errors:
        answer = _send(fuzz_app, attempt)
        event(f"{attempt.path} {answer.status}")
        assert answer.status in ALLOWED, (answer.status, answer.body[:200], attempt)
        assert answer.headers.get("content-type", "").startswith("text/plain"), answer.headers
        assert b"Traceback" not in answer.body and len(answer.body) < 300, answer.body[:300]
        if attempt.auth != "good" and attempt.pairs:
            # Refused before anything is decoded (400: waitress refusing a malformed request line)
            assert answer.status in (400, 401, 413), answer
        if answer.status == 401:
            assert answer.headers.get("www-authenticate", "").startswith("Basic ")
        # Whatever was accepted goes through the processor and out to Slack without an error.
        wait_for(state.inbox_settled, what="the processor to take the callback")
        wait_for(lambda: state.outbox_pending() == 0, what="the outbox to drain")
        errors.assert_clean(f"{attempt.method} {attempt.path}")
    assert state.inbox_failures() == []
