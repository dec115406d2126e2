"""The tests' fake Slack Web API is the console's stand-in for Slack: one implementation.

It records every call and answers like Slack; see bot/console/slack_standin.py.
"""

from bot.console.slack_standin import (  # noqa: F401
    BOT_ID,
    BOT_USER,
    TEAM,
    Activity,
    Call,
    FakeSlack,
    SlackStandIn,
)
