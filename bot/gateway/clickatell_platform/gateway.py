"""The Portal's integrations as the app's `Gateway` (bot.gateway.base).

`PlatformClient` speaks one integration's calls; this class is the port on top of it: it plans
the client IDs (one per recipient, or one per request of 200 for SMS REST), refuses before any
call what the Portal would refuse (numbers, empty or too long text, a bad sender), splits a send
into calls, and says honestly what the Portal does not offer:

- no cancel, charge, coverage, vouchers or batch templates: `Unsupported`, and no call is made;
- no query by client ID, so an interrupted send cannot be settled by asking (`find_sent`
  raises `Unsupported`; `query_by_client_id` is off): its delivery report settles it;
- only the One API can be asked for a message's status; with SMS REST or SMS HTTP the latest
  stored delivery report is all there is (`query` is off);
- no scheduling: sends with a time are held by the app and handed over when due.

A client ID a person chose (`send --id X`) cannot be checked before sending either: the Portal
would take it again, so `skip_if_sent` cannot stop a repeat here.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime

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
    Unsupported,
)
from bot.gateway.clickatell_platform.client import PlatformClient, Sent
from bot.gateway.clickatell_platform.codes import one_api_status
from bot.gateway.clickatell_platform.decoder import PlatformCallbacks
from bot.gateway.clickatell_platform.integrations import Outgoing
from bot.sms.encoding import encode_text
from bot.sms.identifiers import validate_client_id, validate_sender
from bot.sms.numbers import distinct_recipients, normalize_cached
from bot.sms.refusals import Refused

NOT_OFFERED = (
    "{what} is not available with a Clickatell Portal API key: the Portal has no such "
    "command (legacy HTTP API accounts have it)."
)
NOT_SCHEDULED = (
    "The Portal cannot hold a message until later: scheduled sends are held by sms-bot serve "
    "and handed over when due. Send it with /sms send --at in Slack, or send it now."
)
_MESSAGE_ID = re.compile(r"[A-Za-z0-9-]{1,64}")

normalize = normalize_cached


def new_client_id() -> str:
    """24 random hex digits (96 bits), leaving room within 32 characters for a suffix."""
    return secrets.token_hex(12)


def derived_client_id(base: str, index: int, count: int, tag: str) -> str:
    """The client ID of item `index` of `count` planned from one `base` (a person's `--id`):
    `base` itself when it is the only one, else `base` + tag + number, or a hash of both when
    that would not fit in 32 characters (deterministic: replanning derives the same IDs)."""
    if count == 1:
        return base
    derived = f"{base}{tag}{index + 1}"
    if len(derived) <= 32:
        return derived
    return hashlib.sha256(f"{base}:{index}".encode()).hexdigest()[:32]


class ClickatellPlatformGateway:
    """One Portal integration (or the sandbox's Platform mode) behind the gateway port."""

    def __init__(
        self,
        client: PlatformClient,
        *,
        max_parts: int = 3,
        default_region: str | None = None,
        default_sender: str | None = None,
    ):
        self.client = client
        self.integration = client.integration
        self.max_parts = max_parts
        self.default_region = default_region
        self.default_sender = validate_sender(default_sender) if default_sender else None
        self.capabilities = Capabilities(query=self.integration.query_path is not None)
        self.callbacks: CallbackDecoder = PlatformCallbacks()

    # --- sending ---

    def plan(self, to: Sequence[str], *, client_id: str | None = None) -> tuple[Planned, ...]:
        """A client ID per recipient (One API, SMS HTTP) or per request of 200 (SMS REST)."""
        numbers = distinct_recipients(to, self.default_region)
        base = validate_client_id(client_id) if client_id is not None else None
        size = self.integration.batch_size
        if self.integration.shared_client_id:
            count = -(-len(numbers) // size)
            ids = [base or new_client_id() for _ in range(count)]
            if base:
                ids = [derived_client_id(base, i, count, "c") for i in range(count)]
            return tuple(Planned(n, ids[i // size]) for i, n in enumerate(numbers))
        if base is None:
            return tuple(Planned(n, new_client_id()) for n in numbers)
        count = len(numbers)
        return tuple(
            Planned(n, derived_client_id(base, i, count, "r")) for i, n in enumerate(numbers)
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
        if at is not None:
            raise Unsupported(NOT_SCHEDULED)
        outgoing = self._checked(planned)
        encoded = encode_text(text, self.max_parts)
        chosen = validate_sender(sender) if sender else self.default_sender
        results = each_call(self._calls(outgoing), lambda c: self.client.send(c, text, chosen))
        messages = tuple(
            RecipientResult(s.to, s.message_id, s.client_id, error=s.error) for s in results
        )
        return SendResult(messages, encoded.parts, encoded.encoding)

    def _checked(self, planned: Sequence[Planned]) -> list[Outgoing]:
        if not planned:
            raise Refused("There is no recipient: give at least one phone number.")
        seen: dict[str, Outgoing] = {}
        for item in planned:
            number = normalize(item.to, self.default_region)
            seen.setdefault(number, Outgoing(number, validate_client_id(item.client_id)))
        return list(seen.values())

    def _calls(self, outgoing: list[Outgoing]) -> list[list[Outgoing]]:
        """The recipients of each call, in order: at most `batch_size` each, and with SMS REST
        only recipients sharing one client ID (the request carries one)."""
        size, calls = self.integration.batch_size, []
        for item in outgoing:
            current = calls[-1] if calls else None
            same_id = current is not None and current[0].client_id == item.client_id
            if (
                current is None
                or len(current) >= size
                or (self.integration.shared_client_id and not same_id)
            ):
                calls.append([item])
            else:
                current.append(item)
        return calls

    def find_sent(self, client_id: str) -> MessageStatus | None:
        raise Unsupported(
            "The Portal cannot be asked for a message by its client ID; its delivery report "
            "(which carries the client ID) settles an interrupted send."
        )

    # --- queries ---

    def query(self, message_id: str) -> MessageStatus:
        if not self.capabilities.query:
            raise Unsupported(
                "This Portal integration (SMS REST or SMS HTTP) cannot be asked for a message's "
                "status; its delivery reports are the only source."
            )
        if not _MESSAGE_ID.fullmatch(message_id):
            raise Refused(f"Message ID {message_id!r} must be letters and digits.")
        name = self.client.query(message_id)
        return MessageStatus(message_id, one_api_status(None, name))

    def cancel(self, message_id: str) -> MessageStatus:
        raise Unsupported(NOT_OFFERED.format(what="Cancelling a message"))

    def charge(self, message_id: str) -> MessageCharge:
        raise Unsupported(NOT_OFFERED.format(what="A message's charge"))

    def balance(self) -> Balance:
        amount, currency = self.client.balance()
        return Balance(amount, currency)

    def coverage(self, number: str) -> Coverage:
        raise Unsupported(NOT_OFFERED.format(what="Coverage"))

    def redeem(self, voucher: str) -> Redeemed:
        raise Unsupported(NOT_OFFERED.format(what="Redeeming a voucher"))

    def ping(self) -> None:
        """The balance call: the cheapest one that proves the key works (§7 Decision)."""
        self.client.balance()

    def close(self) -> None:
        self.client.close()


def each_call(
    calls: Sequence[list[Outgoing]], send_one: Callable[[list[Outgoing]], list[Sent]]
) -> list[Sent]:
    """Every call's results, in order. A first call failing as a whole is raised (nothing was
    sent); after that its recipients carry the error and later calls are not made, so the
    results of calls already made are never lost (losing them could only lead to resending)."""
    results: list[Sent] = []
    for index, call in enumerate(calls):
        try:
            results += send_one(call)
        except GatewayError as error:
            if index == 0:
                raise
            results += [Sent(o.to, o.client_id, None, error) for o in call]
            skipped = GatewayError(
                None,
                "not sent",
                f"Not sent: an earlier part of this send failed ({error.explanation}).",
            )
            later = [o for c in calls[index + 1 :] for o in c]
            results += [Sent(o.to, o.client_id, None, skipped) for o in later]
            break
    return results
