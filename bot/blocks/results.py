"""Replies to the query commands: status, cancel, charge, balance, coverage, redeem, ping."""

from __future__ import annotations

from collections.abc import Sequence

from bot.blocks.base import Message, code, context, escape, section
from bot.domain.delivery import DeliveryState, DeliveryStatus
from bot.gateway.base import Balance
from bot.sms.numbers import display_number
from bot.usecases.redeeming import Redemption
from bot.usecases.shared_ids import MessageReport


def _reply(markdown: str, fallback: str, sandbox: bool) -> Message:
    blocks = [section(markdown)]
    if sandbox:
        blocks.append(context(":test_tube: Sandbox gateway: no real SMS is sent."))
    return Message(escape(fallback), blocks)


def status_message(message_id: str, status: DeliveryStatus, sandbox: bool = False) -> Message:
    words, code_value = status.words, status.code
    return _reply(
        f"Message {code(message_id)}: *{escape(words)}* (status {code_value})",
        f"Message {message_id}: {words} (status {code_value})",
        sandbox,
    )


def reported_status_message(
    message_id: str, status: DeliveryStatus | None, sandbox: bool = False
) -> Message:
    """`status` where the gateway cannot be asked (the Portal's SMS integrations): the latest
    delivery report, saying that is where it comes from; or that none has come."""
    if status is None:
        words = (
            "no delivery report has come for it yet, and this kind of Clickatell Portal "
            "integration cannot be asked for a status"
        )
        return _reply(
            f"Message {code(message_id)}: {escape(words)}.",
            f"Message {message_id}: {words}.",
            sandbox,
        )
    note = "from its latest delivery report (this integration cannot be asked)"
    return _reply(
        f"Message {code(message_id)}: *{escape(status.words)}* (status {status.code}), {note}",
        f"Message {message_id}: {status.words} (status {status.code}), {note}",
        sandbox,
    )


def cancel_message(message_id: str, status: DeliveryStatus, sandbox: bool = False) -> Message:
    if status.state is DeliveryState.CANCELLED:
        words = "cancelled; it will not be sent"
    else:
        words = f"could not be cancelled: it is already past that point ({status.words})"
    return _reply(
        f"Message {code(message_id)} {escape(words)} (status {status.code})",
        f"Message {message_id} {words} (status {status.code})",
        sandbox,
    )


def shared_id_message(
    client_id: str, reports: Sequence[MessageReport], cancelling: bool, sandbox: bool = False
) -> Message:
    """`status`/`cancel` of a client ID several messages share: one line per message."""
    verb = "Cancelling" if cancelling else "Status of"
    lines = [f"{verb} the {len(reports)} messages sent with client ID {client_id}:"]
    for report in reports:
        ident = f" {report.message_id}" if report.message_id else ""
        if report.problem is not None:
            state = ("not cancelled: " if cancelling else "") + report.problem
        elif report.status is None:
            state = "no delivery report yet"
        elif cancelling and report.status.state is not DeliveryState.CANCELLED:
            state = f"not cancelled: already {report.status.words} (status {report.status.code})"
        else:
            state = f"{report.status.words} (status {report.status.code})"
        lines.append(f"• {display_number(report.to)}{ident}: {state}")
    text = "\n".join(lines)
    return _reply(escape(text), text, sandbox)


def charge_message(
    message_id: str, charge: float, status: DeliveryStatus, sandbox: bool = False
) -> Message:
    credits = f"{charge:g} credit" + ("" if charge == 1 else "s")
    words, code_value = status.words, status.code
    return _reply(
        f"Message {code(message_id)} cost *{credits}* · {escape(words)} (status {code_value})",
        f"Message {message_id} cost {credits}; {words} (status {code_value})",
        sandbox,
    )


def balance_message(balance: Balance, sandbox: bool = False) -> Message:
    """Credits as a bare number (the legacy account's unit); money with its currency."""
    amount = f"{balance.amount:g}" if balance.currency is None else _money(balance)
    return _reply(
        f"Credit left on the account: *{amount}*",
        f"Credit left on the account: {amount}",
        sandbox,
    )


def _money(balance: Balance) -> str:
    return f"{balance.currency} {balance.amount:,.2f}"


def coverage_message(
    msisdn: str, routable: bool, charge: float | None, sandbox: bool = False
) -> Message:
    number = display_number(msisdn)
    if routable:
        price = f" at {charge:g} credit{'' if charge == 1 else 's'} per part" if charge else ""
        words = f"{number} can be reached{price}."
    else:
        words = f"{number} cannot be reached: the gateway does not route to that prefix."
    return _reply(escape(words), words, sandbox)


def redeem_message(redemption: Redemption, sandbox: bool = False) -> Message:
    """How much credit the voucher added: the balance before and after (the gateway's answer
    does not say)."""
    before, after = redemption.before, redemption.after
    if before is None or after is None or redemption.added is None:
        words = (
            f"Voucher redeemed (gateway answered {redemption.code}); the balance could not be "
            "read, so how much it added is unknown."
        )
        return _reply(escape(words) + " Check it with `/sms balance`.", words, sandbox)
    added = Balance(redemption.added, after.currency)
    words = (
        f"Voucher redeemed (gateway answered {redemption.code}): {_amount(added)} added; "
        f"the balance went from {_amount(before)} to {_amount(after)}."
    )
    return _reply(escape(words), words, sandbox)


def _amount(balance: Balance) -> str:
    return f"{balance.amount:g} credits" if balance.currency is None else _money(balance)


def ping_message(sandbox: bool = False) -> Message:
    return _reply("The gateway answered: the session is alive.", "Gateway session alive", sandbox)
