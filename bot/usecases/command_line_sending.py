"""`sms-bot send` recorded in the database `serve` uses (product.md §4): what it sends appears in
`/sms log` (sent by the command line, shown in SMS_CHANNEL) and its delivery reports find it.

Each batch (one text: a template filled in per contact may give several) is recorded, with the
client IDs planned for it, before its gateway call, as Slack's sends are; the gateway's answer
for each recipient is stored afterwards, a gateway opt-out (legacy 122, One API 26) as an
opt-out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.config import Settings
from bot.domain.records import NewRecipient, Send
from bot.domain.threading import COMMAND_LINE_USER, NO_SLACK_MESSAGE
from bot.gateway.base import GatewayError, Planned, SendResult
from bot.sms.encoding import encode_text, measure
from bot.storage import Storage
from bot.usecases.recording import store_result


def record_batch(
    storage: Storage,
    settings: Settings,
    text: str,
    planned: Sequence[Planned],
    *,
    sender: str | None,
    at: datetime | None,
    client_id: str | None,
) -> Send:
    encoding, _, parts = measure(text)
    key = f"cli:{client_id}:{planned[0].to}" if client_id and planned else None
    return storage.sends.record(
        slack_user=COMMAND_LINE_USER,
        channel=settings.sms_channel or "",
        text=text,
        encoding=encoding,
        parts=parts,
        recipients=[
            NewRecipient(
                msisdn=p.to, climsgid=p.client_id, contact_name=storage.contacts.name_for(p.to)
            )
            for p in planned
        ],
        sender=sender,
        scheduled_at=at,
        sandbox=settings.uses_sandbox,
        intent_key=key,  # `--id X` twice: recorded once, as it is sent once
        thread_ts=NO_SLACK_MESSAGE,
    )


def store_batch(
    storage: Storage, send: Send, result: SendResult | None, failure: GatewayError | None
) -> None:
    """What the gateway answered for each recipient of `send` (or the failure of the call)."""
    by_number = {m.to: m for m in result.messages} if result is not None else {}
    encoded = encode_text(send.text)
    with storage.transaction():
        for recipient in send.recipients:
            if recipient.apimsgid or recipient.error_code or recipient.error_description:
                continue  # settled before (the same --id sent again)
            store_result(storage, recipient, by_number.get(recipient.msisdn), failure, encoded)
