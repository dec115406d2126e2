"""`sms-bot send` under the same rules as Slack (product.md §4): opted-out numbers are skipped
(every number opted out: nothing is sent), and what is sent is recorded in the database `serve`
uses, so `/sms log` lists it and its delivery reports find it.

The send is recorded, with the client IDs planned for it, before the gateway call, as Slack's
sends are: a crash in between leaves a record that names what may have gone out.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Settings
from bot.domain.records import NewRecipient
from bot.domain.threading import COMMAND_LINE_USER, NO_SLACK_MESSAGE
from bot.gateway.base import Gateway, Planned, SendResult
from bot.grammar import Send
from bot.sms.encoding import encode_text, measure
from bot.storage import Storage
from bot.usecases.recording import store_result

OPTED_OUT = (
    "opted out of SMS from us (texted STOP), so it was not sent; it can opt in by texting START"
)


@dataclass(frozen=True)
class CommandLineSend:
    """`planned`: every number given (normalized, in order) with its client ID; `skipped`: those
    opted out; `result`: the gateway's answer for the rest (None when nothing was sent)."""

    planned: tuple[Planned, ...]
    skipped: frozenset[str]
    result: SendResult | None


def send_recorded(
    storage: Storage, gateway: Gateway, settings: Settings, command: Send, *, sandbox: bool
) -> CommandLineSend:
    planned = tuple(gateway.plan(list(command.to), client_id=command.client_id))
    skipped = frozenset(p.to for p in planned if storage.opt_outs.is_opted_out(p.to))
    sending = [p for p in planned if p.to not in skipped]
    if not sending:
        return CommandLineSend(planned, skipped, None)
    encoding, _, parts = measure(command.text)
    send = storage.sends.record(
        slack_user=COMMAND_LINE_USER,
        channel=settings.sms_channel or "",
        text=command.text,
        encoding=encoding,
        parts=parts,
        recipients=[
            NewRecipient(
                msisdn=p.to, climsgid=p.client_id, contact_name=storage.contacts.name_for(p.to)
            )
            for p in sending
        ],
        sender=command.sender,
        scheduled_at=command.at,
        sandbox=sandbox,
        intent_key=f"cli:{command.client_id}" if command.client_id else None,
        thread_ts=NO_SLACK_MESSAGE,
    )
    result = gateway.send(
        sending,
        command.text,
        sender=command.sender,
        at=command.at,
        skip_if_sent=command.client_id is not None,  # `--id X` twice sends once
    )
    recipients = {r.msisdn: r for r in send.recipients}
    encoded = encode_text(command.text)
    with storage.transaction():
        for message in result.messages:
            recipient = recipients.get(message.to)
            if recipient is not None:  # a gateway opt-out (122, 26) is recorded here too
                store_result(storage, recipient, message, None, encoded)
    return CommandLineSend(planned, skipped, result)
