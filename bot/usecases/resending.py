""" "Send again": a person's decision, once per send, for messages whose outcome stayed unknown
past the window (`bot.usecases.unsettled`). They go as a new send, with new client IDs and the
checks of any send (allow-list, opt-outs); the old card says they were sent again."""

from __future__ import annotations

from bot.domain.delivery import OPTED_OUT, RESENT
from bot.domain.records import Send
from bot.usecases.ports import AppPorts
from bot.usecases.sending import SKIPPED_WORDS, SendIntent, SendOutcome, execute, prepare
from bot.usecases.unsettled import resendable

RESENT_WORDS = "Outcome unknown; sent again as a new message"


def send_again(services: AppPorts, send: Send, user: str) -> SendOutcome | None:
    """Send the unsettled messages of `send` once more, as a new send by `user`; None when there
    is nothing to send again or it was already sent again. Raises Refusal like any send."""
    recipients = resendable(send)
    if not recipients:
        return None
    intent = SendIntent(
        user=user,
        channel=send.card_channel or send.channel,
        to=tuple(r.msisdn for r in recipients),
        text=send.text,
        own_texts={r.msisdn: r.text for r in recipients if r.text is not None},
        intent_key=f"again:{send.id}",  # once per send, whoever clicks and however often
        sender=send.sender,
    )
    prepared = prepare(services, intent)
    skipped = {t.msisdn for t in prepared.opted_out}  # opted out since: not sent again
    storage = services.storage
    with storage.transaction():
        for recipient in recipients:
            code, words = (
                (OPTED_OUT, SKIPPED_WORDS)
                if recipient.msisdn in skipped
                else (RESENT, RESENT_WORDS)
            )
            storage.sends.record_result(
                recipient.id, apimsgid=None, error_code=code, error_description=words
            )
    services.refresh_card(send.id)
    return execute(services, prepared)
