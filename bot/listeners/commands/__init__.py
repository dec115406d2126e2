"""The `/sms` slash command (one listener; its subcommands run in `run.py`)."""

from slack_bolt import App

from bot.listeners.commands.sms_command import COMMAND, handle_sms

__all__ = ["COMMAND", "register"]


def register(app: App) -> None:
    app.command(COMMAND)(handle_sms)
