"""The legacy HTTP API as the app's `Gateway` (bot.gateway.base).

`ClickatellClient` speaks the protocol in its own terms (apimsgid, climsgid, 3-digit codes);
this class is the port on top of it: it plans a send's client IDs (one per 300-recipient chunk,
so recording them before the call keeps a crash settleable by `querymsg`), answers in the
port's normalised results, and keeps every legacy habit inside: either ID accepted for queries
(103 then 104), "not known" codes, the status code table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

from bot.domain.delivery import DeliveryStatus
from bot.gateway.base import (
    Balance,
    CallbackDecoder,
    Capabilities,
    Coverage,
    GatewayError,
    MessageCharge,
    MessageStatus,
    Planned,
    RecipientResult,
    Redeemed,
    SendResult,
)
from bot.gateway.clickatell_http import types as legacy
from bot.gateway.clickatell_http.chunks import Chunk, new_climsgid, split
from bot.gateway.clickatell_http.client import ClickatellClient
from bot.gateway.clickatell_http.codes import delivery_status
from bot.gateway.clickatell_http.decoder import ClickatellHttpCallbacks
from bot.sms.identifiers import validate_client_id
from bot.sms.numbers import distinct_recipients
from bot.sms.refusals import Refused

_T = TypeVar("_T")

# The legacy API offers every command the app has.
CAPABILITIES = Capabilities(
    query=True,
    query_by_client_id=True,
    cancel=True,
    schedule=True,
    charge=True,
    coverage=True,
    redeem=True,
    batch=True,
)
# querymsg's "never saw it": an unknown apimsgid (103) or climsgid (104).
_NOT_KNOWN = frozenset({"103", "104"})
# A send confirmed by climsgid alone (no per-recipient ID): the gateway has it, "008".
_TAKEN = "008"


class ClickatellHttpGateway:
    """One legacy account (or the sandbox) behind the gateway port."""

    capabilities: Capabilities = CAPABILITIES

    def __init__(self, client: ClickatellClient, *, account: str | None = None):
        self.client = client
        self.callbacks: CallbackDecoder = ClickatellHttpCallbacks(account)

    # --- sending ---

    def plan(self, to: Sequence[str], *, client_id: str | None = None) -> tuple[Planned, ...]:
        """One climsgid per chunk of 300 distinct numbers, derived from `client_id` (a person's
        `--id`) or a fresh one: the same IDs `send` would derive, so recording them first
        lets a crash before the answer be settled by asking the gateway for them."""
        numbers = distinct_recipients(to, self.client.default_region)
        base = validate_client_id(client_id) if client_id is not None else new_climsgid()
        return tuple(
            Planned(n, chunk.climsgid) for chunk in split(numbers, base) for n in chunk.numbers
        )

    def send(
        self,
        planned: Sequence[Planned],
        text: str,
        *,
        sender: str | None = None,
        at: datetime | None = None,
        skip_if_sent: bool = False,
    ) -> SendResult:
        result = self.client.send_chunks(
            _chunks(planned), text, sender=sender, scheduled_time=at, skip_if_sent=skip_if_sent
        )
        messages = tuple(_recipient(message) for message in result.messages)
        return SendResult(messages, result.parts, result.encoding)

    def find_sent(self, client_id: str) -> MessageStatus | None:
        try:
            found = self.client.query(climsgid=client_id)
        except GatewayError as error:
            if error.code in _NOT_KNOWN:
                return None
            raise
        return _status(found)

    # --- queries ---

    def query(self, message_id: str) -> MessageStatus:
        return _status(by_either_id(self.client.query, message_id))

    def cancel(self, message_id: str) -> MessageStatus:
        return _status(by_either_id(self.client.cancel, message_id))

    def charge(self, message_id: str) -> MessageCharge:
        found = by_either_id(self.client.charge, message_id)
        return MessageCharge(found.apimsgid, found.charge, delivery_status(found.status))

    def balance(self) -> Balance:
        return Balance(self.client.balance())  # credits: the legacy API has no currency

    def coverage(self, number: str) -> Coverage:
        return self.client.coverage(number)

    def redeem(self, voucher: str) -> Redeemed:
        return self.client.redeem(voucher)

    def ping(self) -> None:
        self.client.ping()

    def close(self) -> None:
        self.client.close()


def _chunks(planned: Sequence[Planned]) -> list[Chunk]:
    """The planned recipients grouped by client ID, in the order planned: one POST each."""
    groups: dict[str, list[str]] = {}
    for recipient in planned:
        groups.setdefault(recipient.client_id, []).append(recipient.to)
    return [Chunk(tuple(numbers), client_id) for client_id, numbers in groups.items()]


def _status(found: legacy.MessageStatus) -> MessageStatus:
    return MessageStatus(found.apimsgid, delivery_status(found.status))


def _recipient(result: legacy.RecipientResult) -> RecipientResult:
    taken: DeliveryStatus | None = None
    if result.apimsgid is None and result.error is None:
        taken = delivery_status(_TAKEN)
    earlier = result.already_sent
    return RecipientResult(
        to=result.to,
        message_id=result.apimsgid,
        client_id=result.climsgid,
        error=result.error,
        status=taken,
        already_sent=_status(earlier) if earlier is not None else None,
    )


def by_either_id(lookup: Callable[..., _T], message_id: str) -> _T:
    """`lookup(message_id)` by apimsgid, or by climsgid when the gateway does not know the
    apimsgid (103): people quote either ID (`send` prints both). The command line and Slack both
    ask through the port, so they answer alike. When neither is known, the first error (103,
    which names the gateway's ID) is the one raised; so is it when the ID cannot be a climsgid."""
    try:
        return lookup(message_id)
    except GatewayError as error:
        if error.code != "103":
            raise
        try:
            validate_client_id(message_id)
            return lookup(climsgid=message_id)
        except Refused:
            raise error from None
        except GatewayError as second:
            if second.code != "104":
                raise
            raise error from None
