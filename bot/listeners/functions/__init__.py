"""Workflow Builder custom steps (Slack functions): "Send an SMS" (`send_sms`)."""

from slack_bolt import App

from bot.listeners.functions.send_sms import SEND_SMS_FUNCTION, handle_send_sms

__all__ = ["SEND_SMS_FUNCTION", "register"]


def register(app: App) -> None:
    app.function(SEND_SMS_FUNCTION)(handle_send_sms)
