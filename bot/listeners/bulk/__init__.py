"""Bulk sends in Slack: the form and its preview, and the progress card's buttons (the card itself
is posted and updated by the outbox; see bot/inbound/bulk_cards.py)."""

from slack_bolt import App

from bot.blocks.bulk_card import BULK_CANCEL_ACTION, BULK_PAUSE_ACTION, BULK_RESUME_ACTION
from bot.blocks.bulk_form import BULK_DISCARD_ACTION, BULK_FORM_CALLBACK, BULK_SEND_ACTION
from bot.blocks.home import HOME_BULK_ACTION
from bot.listeners.bulk.form_submitted import handle_bulk_submit
from bot.listeners.bulk.home_button import handle_home_bulk
from bot.listeners.bulk.run_buttons import handle_run_button
from bot.listeners.bulk.send_button import handle_bulk_discard, handle_bulk_send


def register(app: App) -> None:
    app.view(BULK_FORM_CALLBACK)(handle_bulk_submit)
    app.action(BULK_SEND_ACTION)(handle_bulk_send)
    app.action(BULK_DISCARD_ACTION)(handle_bulk_discard)
    for action_id in (BULK_PAUSE_ACTION, BULK_RESUME_ACTION, BULK_CANCEL_ACTION):
        app.action(action_id)(handle_run_button)
    app.action(HOME_BULK_ACTION)(handle_home_bulk)
