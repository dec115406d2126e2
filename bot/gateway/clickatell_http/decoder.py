"""The legacy API's callbacks as the port's `CallbackDecoder`: form parameters in, normalised
`StatusReport`s and `InboundMessage`s out.

A callback's parameters may come in the query string, the form body or both; the payload stored
is the body then the query, joined, and `parse_params` keeps a name's first value, so a form
body wins over the query string and the stored bytes decode exactly as they did on arrival. The
callback names its account by `api_id`, compared in constant time with ours (when we have one).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from bot.gateway.base import (
    Callback,
    CallbackKind,
    DecodedCallback,
    ForeignCallback,
    InboundMessage,
    MessagePart,
    StatusReport,
)
from bot.gateway.clickatell_http.callbacks import decode_mo, decode_status, parse_params
from bot.gateway.clickatell_http.codes import delivery_status


class ClickatellHttpCallbacks:
    """Decodes status (§6) and MO (§7) callbacks for the account `account` (its api_id; None
    accepts any account, for development without one)."""

    def __init__(self, account: str | None = None):
        self.account = account or None

    def decode_request(
        self, kind: CallbackKind, query: bytes, body: bytes
    ) -> list[DecodedCallback]:
        """One event per request, or none for Clickatell's URL check (no parameters at all)."""
        payload = b"&".join(part for part in (body, query) if part)
        params = parse_params(payload)
        if not params:
            return []
        self._check_account(params)
        return [DecodedCallback(payload, _decode(kind, params))]

    def decode_stored(self, kind: CallbackKind, payload: bytes) -> Callback:
        return _decode(kind, parse_params(payload))

    def _check_account(self, params: Mapping[str, bytes]) -> None:
        if self.account is None:
            return
        given = params.get("api_id", b"").strip()
        if not hmac.compare_digest(given, self.account.encode()):
            raise ForeignCallback("This callback is for another account (api_id)")


def _decode(kind: CallbackKind, params: Mapping[str, bytes]) -> Callback:
    return _status_report(params) if kind == "status" else _inbound_message(params)


def _status_report(params: Mapping[str, bytes]) -> StatusReport:
    callback = decode_status(params)
    return StatusReport(
        key=callback.unique_key,
        message_id=callback.apimsgid,
        client_id=callback.climsgid,
        to=callback.to,
        status=delivery_status(callback.status),
        timestamp=callback.timestamp,
        charge=callback.charge,
    )


def _inbound_message(params: Mapping[str, bytes]) -> InboundMessage:
    mo = decode_mo(params)
    part = mo.concatenation
    return InboundMessage(
        key=mo.unique_key,
        message_id=mo.momsgid,
        sender=mo.sender,
        to=mo.to,
        text=mo.text,
        timestamp=mo.timestamp,
        part=MessagePart(part.reference, part.total, part.sequence) if part else None,
    )
