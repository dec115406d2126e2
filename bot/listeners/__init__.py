"""Listeners grouped by Slack feature, each group with `register(app)` (Bolt template layout).

Every listener calls `ack()` first and hands slow work to the services' work executor; results
follow by `respond()` (response URLs) or the Web API.
"""

from slack_bolt import App

from bot.listeners import (
    actions,
    bulk,
    commands,
    errors,
    events,
    functions,
    home,
    shortcuts,
    views,
)


def register_listeners(app: App) -> None:
    commands.register(app)
    actions.register(app)
    shortcuts.register(app)
    views.register(app)
    events.register(app)
    home.register(app)
    functions.register(app)
    bulk.register(app)
    errors.register(app)
