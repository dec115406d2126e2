"""Replies to the query commands: status, cancel, charge, balance, coverage, redeem, ping."""

from __future__ import annotations

from bot.blocks.base import Message, code, context, escape, section
from bot.sms.numbers import display_number


def _reply(markdown: str, fallback: str, sandbox: bool) -> Message:
    blocks = [section(markdown)]
    if sandbox:
        blocks.append(context(":test_tube: Sandbox gateway: no real SMS is sent."))
    return Message(escape(fallback), blocks)


def status_message(apimsgid: str, status: str, description: str, sandbox: bool = False) -> Message:
    return _reply(
        f"Message {code(apimsgid)}: *{escape(description)}* (status {status})",
        f"Message {apimsgid}: {description} (status {status})",
        sandbox,
    )


def cancel_message(apimsgid: str, status: str, description: str, sandbox: bool = False) -> Message:
    if status == "006":
        words = "cancelled; it will not be sent"
    else:
        words = f"could not be cancelled: it is already past that point ({description})"
    return _reply(
        f"Message {code(apimsgid)} {escape(words)} (status {status})",
        f"Message {apimsgid} {words} (status {status})",
        sandbox,
    )


def charge_message(
    apimsgid: str, charge: float, status: str, description: str, sandbox: bool = False
) -> Message:
    credits = f"{charge:g} credit" + ("" if charge == 1 else "s")
    return _reply(
        f"Message {code(apimsgid)} cost *{credits}* · {escape(description)} (status {status})",
        f"Message {apimsgid} cost {credits}; {description} (status {status})",
        sandbox,
    )


def balance_message(credit: float, sandbox: bool = False) -> Message:
    return _reply(
        f"Credit left on the account: *{credit:g}*",
        f"Credit left on the account: {credit:g}",
        sandbox,
    )


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


def redeem_message(code_value: str, sandbox: bool = False) -> Message:
    words = f"Voucher redeemed (gateway answered {code_value}); the credit was added."
    return _reply(escape(words) + " Check it with `/sms balance`.", words, sandbox)


def ping_message(sandbox: bool = False) -> Message:
    return _reply("The gateway answered: the session is alive.", "Gateway session alive", sandbox)
