"""Shortcuts: the message shortcut "Send as SMS" (`send_as_sms`)."""

from slack_bolt import App

from bot.listeners.shortcuts.send_as_sms import SEND_AS_SMS, handle_send_as_sms

__all__ = ["SEND_AS_SMS", "register"]


def register(app: App) -> None:
    app.message_shortcut(SEND_AS_SMS)(handle_send_as_sms)
