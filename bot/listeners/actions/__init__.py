"""Block actions: the card's Cancel button and the compose modal's live preview."""

from slack_bolt import App

from bot.blocks.card import CANCEL_ACTION
from bot.blocks.compose import COMPOSE_TEXT_ACTION
from bot.listeners.actions.cancel_button import handle_cancel
from bot.listeners.actions.compose_preview import handle_compose_text


def register(app: App) -> None:
    app.action(CANCEL_ACTION)(handle_cancel)
    app.action(COMPOSE_TEXT_ACTION)(handle_compose_text)
