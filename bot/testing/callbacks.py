"""Clickatell callbacks built byte for byte, as the gateway sends them (protocol §6, §7).

Delivery reports (`status_params`) and inbound SMS (`mo_params`, raw bytes in any charset, with
a concatenation UDH when given) as form bodies (`form`), posted with basic auth (`post`, `get`):
what the tests, the kill-burst and the soak send to /clickatell/status and /clickatell/mo.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from urllib.parse import quote_from_bytes

import requests

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
_MO_TZ = timedelta(hours=2)


def form(params: Mapping[str, str | bytes]) -> bytes:
    """x-www-form-urlencoded bytes; bytes values are percent-encoded as the raw bytes."""
    pairs = []
    for name, value in params.items():
        raw = value if isinstance(value, bytes) else value.encode("latin-1")
        pairs.append(f"{name}={quote_from_bytes(raw, safe='')}")
    return "&".join(pairs).encode("ascii")


def status_params(
    apimsgid: str,
    status: str,
    *,
    api_id: str = "sandbox",
    to: str = "27821234567",
    climsgid: str = "",
    timestamp: float | None = None,
    charge: str = "0.300000",
) -> dict[str, str]:
    return {
        "api_id": api_id,
        "apiMsgId": apimsgid,
        "cliMsgId": climsgid,
        "to": to,
        "from": "27825550199",
        "timestamp": str(int(time.time() if timestamp is None else timestamp)),
        "status": status,
        "charge": charge,
    }


def mo_params(
    momsgid: str,
    sender: str,
    text: str | bytes,
    *,
    charset: str = "ISO-8859-1",
    udh: str = "",
    api_id: str = "sandbox",
    at: datetime | None = None,
) -> dict[str, str | bytes]:
    moment = (at or datetime.now(UTC)).astimezone(UTC) + _MO_TZ
    raw = (
        text
        if isinstance(text, bytes)
        else text.encode("utf-16-be" if charset == "UTF-16BE" else "latin-1")
    )
    return {
        "api_id": api_id,
        "moMsgId": momsgid,
        "from": sender,
        "to": "27825550199",
        "timestamp": moment.strftime("%Y-%m-%d %H:%M:%S"),
        "text": raw,
        "charset": charset,
        "udh": udh,
    }


def post(
    session: requests.Session,
    url: str,
    params: Mapping[str, str | bytes],
    auth: tuple[str, str] | None,
) -> requests.Response:
    return session.post(url, data=form(params), headers=FORM, auth=auth, timeout=10)


def get(
    session: requests.Session,
    url: str,
    params: Mapping[str, str | bytes],
    auth: tuple[str, str] | None,
) -> requests.Response:
    return session.get(f"{url}?{form(params).decode()}", auth=auth, timeout=10)
