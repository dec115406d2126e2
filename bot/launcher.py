"""What `scripts/run` starts: the real app when Slack is configured, else the local console.

Kept out of `sms-bot serve` on purpose: `serve` must fail loudly on missing Slack settings,
while a newcomer's first command should show something working.
"""

from __future__ import annotations

import sys

from bot.config import ConfigError, load_settings


def main() -> int:
    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"sms-bot: {error}", file=sys.stderr)
        return 2
    from bot import cli

    if settings.slack_bot_token:
        return cli.main(["serve"])
    # The console's own first line says what it is, the gateway and how to connect Slack; the
    # reason it was chosen goes into that line rather than a line of its own.
    from bot.console import main as console

    return console(settings, reason="no Slack credentials configured (SLACK_BOT_TOKEN)")


if __name__ == "__main__":
    sys.exit(main())
