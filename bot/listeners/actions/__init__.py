"""Block actions: the card's Cancel and Send again buttons, the compose modal's live preview,
the buttons that say where a waiting thread reply goes, and the log's More."""

import re

from slack_bolt import App

from bot.blocks.card import CANCEL_ACTION, SEND_AGAIN_ACTION
from bot.blocks.compose import COMPOSE_TEXT_ACTION
from bot.blocks.log import LOG_MORE_ACTION
from bot.blocks.reply_choice import REPLY_TO_ACTION
from bot.listeners.actions.cancel_button import handle_cancel
from bot.listeners.actions.compose_preview import handle_compose_text
from bot.listeners.actions.log_more_button import handle_log_more
from bot.listeners.actions.reply_choice_button import handle_reply_choice
from bot.listeners.actions.send_again_button import handle_send_again


def register(app: App) -> None:
    app.action(CANCEL_ACTION)(handle_cancel)
    app.action(COMPOSE_TEXT_ACTION)(handle_compose_text)
    app.action(SEND_AGAIN_ACTION)(handle_send_again)
    app.action(re.compile(f"^{REPLY_TO_ACTION}:"))(handle_reply_choice)
    app.action(LOG_MORE_ACTION)(handle_log_more)
