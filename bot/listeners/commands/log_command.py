"""`/sms log [NUMBER|NAME] [--page N]`, and its More button (the same answer, a page on).

Who may see what: what was sent from, or shown in, the channel where it is asked; `log all`
(every channel) is for admins. The More button is checked the same way, in the channel it is
clicked in, by whoever clicks it.
"""

from __future__ import annotations

from bot.blocks.errors import refused_message
from bot.blocks.log import LogAsked, log_message
from bot.container import Services
from bot.domain import access
from bot.listeners.common import Replier, is_admin
from bot.sms.numbers import normalize_msisdn
from bot.usecases.message_log import message_log

LOG_EVERYWHERE = "all"  # `/sms log all`: every channel's log (admins)


def show_log(
    services: Services, user: str, channel: str, number: str | None, page: int, reply: Replier
) -> None:
    everywhere = (number or "").casefold() == LOG_EVERYWHERE
    if everywhere and not is_admin(services.settings, user):
        reply(refused_message(access.log_everywhere_text()))
        return
    msisdn = None
    if number and not everywhere:
        found = _number_of(services, number)
        if found is None:
            words = f"There is no contact named {number}. See /sms contacts, or give a number."
            reply(refused_message(words))
            return
        msisdn = found
    lines = message_log(
        services.storage, msisdn=msisdn, channel=None if everywhere else channel, page=page
    )
    workspace = services.inbound.workspace.info().url
    reply(log_message(lines, LogAsked(number, msisdn), workspace))


def _number_of(services: Services, typed: str) -> str | None:
    """The number a contact name or a number names; None: a name that is no contact."""
    contact = services.storage.contacts.get(typed)
    if contact is not None:
        return contact.msisdn
    if typed[:1] not in "+0123456789(":
        return None
    return normalize_msisdn(typed, services.settings.default_region)
