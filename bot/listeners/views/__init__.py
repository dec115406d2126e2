"""View submissions: the compose modal's Send."""

from slack_bolt import App

from bot.blocks.compose import COMPOSE_CALLBACK
from bot.listeners.views.compose_submit import handle_compose_submit


def register(app: App) -> None:
    app.view(COMPOSE_CALLBACK)(handle_compose_submit)
