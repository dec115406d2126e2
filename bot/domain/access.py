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
