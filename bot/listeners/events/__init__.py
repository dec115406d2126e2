"""Events API: `message` events (thread replies, relayed as SMS by the inbound side)."""

from slack_bolt import App

from bot.listeners.events.message import handle_message


def register(app: App) -> None:
    app.event("message")(handle_message)
