"""The App Home tab: publishing it when opened, and its buttons (compose, templates, Cancel)."""

from slack_bolt import App

from bot.blocks.home import HOME_CANCEL_ACTION, HOME_COMPOSE_ACTION, HOME_TEMPLATES_ACTION
from bot.listeners.home.cancel_scheduled import handle_home_cancel
from bot.listeners.home.compose_button import handle_home_compose
from bot.listeners.home.home_opened import handle_home_opened
from bot.listeners.home.templates_button import handle_home_templates


def register(app: App) -> None:
    app.event("app_home_opened")(handle_home_opened)
    app.action(HOME_COMPOSE_ACTION)(handle_home_compose)
    app.action(HOME_CANCEL_ACTION)(handle_home_cancel)
    app.action(HOME_TEMPLATES_ACTION)(handle_home_templates)
