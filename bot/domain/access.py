"""Who may do what (product.md §2: SMS_ALLOWED_USERS, SMS_ADMINS), on Slack user IDs.

Plain rules on plain sets, so the slash commands, the modal, thread replies and every later
surface decide the same way.
"""

from __future__ import annotations

from collections.abc import Collection


def may_use(allowed: Collection[str], admins: Collection[str], user: str | None) -> bool:
    """The allowed users may send and query (an empty list allows every member); admins always
    may; nobody without a user ID may."""
    if not user:
        return False
    return not allowed or user in allowed or user in admins


def is_admin(admins: Collection[str], user: str | None) -> bool:
    return bool(user) and user in admins


def not_allowed_text(user: str | None) -> str:
    return (
        f"You are not allowed to use /sms: your Slack user ID ({user or 'unknown'}) is not in "
        "SMS_ALLOWED_USERS. Ask the person who runs sms-bot to add it."
    )


def admin_only_text(user: str | None) -> str:
    return (
        f"Only admins may redeem vouchers: your Slack user ID ({user or 'unknown'}) is not in "
        "SMS_ADMINS. Ask an admin to redeem it."
    )


def may_touch(admins: Collection[str], user: str | None, sender: str | None) -> bool:
    """Whether `user` may act on a send (cancel it): the person who sent it, or an admin."""
    return bool(user) and (user == sender or user in admins)


def not_your_send_text(sender: str | None) -> str:
    who = f"<@{sender}>, who sent it," if sender else "the person who sent it"
    return f"Only {who} or an admin (SMS_ADMINS) can cancel this message. Nothing was cancelled."


def log_everywhere_text() -> str:
    return (
        "Only admins (SMS_ADMINS) may see the log of every channel; /sms log shows what was sent "
        "from this one."
    )
