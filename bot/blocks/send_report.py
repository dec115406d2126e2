"""What the sender is told, ephemerally, after a send: pure builders over a `SendOutcome`.

Everything accepted and the card in place: nothing. Otherwise one message per problem: the card
itself when it could not be posted in the channel (with why), and what failed, each gateway code
named once (one code for all at the end, several beside their numbers).
"""

from __future__ import annotations

from bot.blocks.base import Message, clip, escape, section
from bot.blocks.card import card_message
from bot.blocks.errors import error_message, refused_message
from bot.domain.delivery import ALREADY_SENT, OPTED_OUT, OUTCOME_UNKNOWN
from bot.gateway.base import GatewayError, OutcomeUnknown
from bot.sms.numbers import display_number
from bot.usecases.sending import RecipientProblem, SendOutcome

MAX_LINES = 10


def send_report(outcome: SendOutcome) -> list[Message]:
    messages = []
    if outcome.card_problem is not None:
        messages.append(_card_here(outcome))
    problems = problems_message(outcome)
    if problems is not None:
        messages.append(problems)
    return messages


def _card_here(outcome: SendOutcome) -> Message:
    """No card in the channel: show the person the card itself, with why it is not there."""
    card = card_message(outcome.send)
    note = (
        f"I could not post the card in this channel ({outcome.card_problem}); "
        "invite me with /invite to get cards here. "
    )
    note += "The SMS went out as shown below." if outcome.failure is None else "See below."
    block = {"type": "context", "elements": [{"type": "mrkdwn", "text": f":warning: {note}"}]}
    return Message(f"{note}\n{card.text}", [block, *card.blocks])


def problems_message(outcome: SendOutcome) -> Message | None:
    """One message about what failed, or None when everything was accepted."""
    failure, words = outcome.failure, outcome.failure_words or ""
    if isinstance(failure, OutcomeUnknown):
        return error_message(words)
    if isinstance(failure, GatewayError):
        return error_message(words, code=failure.code)
    if failure is not None:
        return refused_message(words)
    return _refused_recipients(outcome.refused, len(outcome.send.recipients))


def _refused_recipients(refused: tuple[RecipientProblem, ...], total: int) -> Message | None:
    if not refused:
        return None
    codes = sorted({r.code for r in refused if _gateway_code(r.code)})
    per_line = len(codes) > 1
    lines = [f"{display_number(r.msisdn)}: {_line(r, per_line)}" for r in refused[:MAX_LINES]]
    if len(refused) > MAX_LINES:
        lines.append(f"…and {len(refused) - MAX_LINES} more (see the card).")
    head = f"Not sent to {len(refused)} of {total} recipients:"
    code = None if per_line else (codes[0] if codes else None)
    return error_message(head + "\n" + "\n".join(lines), code=code)


def _gateway_code(code: str | None) -> bool:
    return bool(code) and code not in (OUTCOME_UNKNOWN, ALREADY_SENT, OPTED_OUT)


def _line(problem: RecipientProblem, with_code: bool) -> str:
    suffix = f" (code {problem.code})" if with_code and _gateway_code(problem.code) else ""
    return problem.words + suffix


def settled_message(text: str, interrupted: int, sent: int, unknown: int = 0) -> Message:
    """To the sender, after a restart settled a send a crash had cut off (see the card);
    `unknown` of them on a gateway that cannot be asked, which a delivery report settles."""
    quoted = escape(clip(text, 60))
    if unknown:
        words = (
            f":arrows_counterclockwise: sms-bot restarted while sending “{quoted}”: the gateway "
            f"cannot be asked whether {unknown} of them reached it. A delivery report will show "
            "it on the card; without one, the card offers to send it again."
        )
        return Message(f"{words} The card shows each message.", [section(words)])
    not_sent = interrupted - sent
    verb = "was" if not_sent == 1 else "were"
    how = (
        f"{sent} of {interrupted} had reached the gateway; {not_sent} had not and {verb} not "
        "sent: send again if still needed."
    )
    if not not_sent:
        how = f"all {interrupted} had reached the gateway and are on their way."
    words = f":arrows_counterclockwise: sms-bot restarted while sending “{quoted}”: {how}"
    return Message(f"{words} The card shows each message.", [section(words)])
