"""A signed Slack request whose JSON nests deeper than Python's parser recurses is bad input:
answered 400, never a 5xx, and nothing is logged as an error (issue 16, case 10)."""

from __future__ import annotations

import io
import json
from typing import Any
from urllib.parse import quote

import pytest

from bot.web import WebApp
from tests.hardening.support import SECRET, ErrorLog, InboundHarness, raw_request, signed_headers

# Far beyond the interpreter's recursion limit (1,000), and each body still under 64 KiB, so the
# nesting is the only thing wrong with it.
DEPTH = 9_000


def _bodies() -> dict[str, tuple[str, bytes]]:
    arrays = "[" * DEPTH + "]" * DEPTH
    objects = '{"a":' * DEPTH + "1" + "}" * DEPTH
    return {
        "event (arrays)": ("application/json", arrays.encode()),
        "event (objects)": ("application/json", objects.encode()),
        "interactivity payload": (
            "application/x-www-form-urlencoded",
            b"payload=" + quote(arrays).encode(),
        ),
    }


@pytest.mark.parametrize("name", sorted(_bodies()))
def test_deeply_nested_signed_json_is_400(app: InboundHarness, errors: ErrorLog, name: str) -> None:
    content_type, body = _bodies()[name]
    headers = {**signed_headers(SECRET, body), "Content-Type": content_type}
    answer = raw_request(app.url, "POST", b"/slack/events", headers, body)
    assert answer.status == 400, (name, answer.status, answer.body[:200])
    assert b"Traceback" not in answer.body
    errors.assert_clean(name)


def test_any_route_answers_400_when_its_parser_recurses_too_deep() -> None:
    """The WSGI layer itself: a handler (a gateway's JSON callback decoder, say) that parses a
    deeply nested body fails with RecursionError; that is the client's input, so 400."""

    def parsing(environ: dict[str, Any], start_response: object) -> list[bytes]:
        json.loads(environ["wsgi.input"].read())
        return [b""]

    body = b"[" * DEPTH + b"]" * DEPTH
    environ = {
        "PATH_INFO": "/clickatell/mo",
        "REQUEST_METHOD": "POST",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    statuses: list[str] = []
    WebApp({"/clickatell/mo": parsing})(environ, lambda status, headers: statuses.append(status))
    assert statuses == ["400 Bad Request"]
