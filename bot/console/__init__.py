"""`sms-bot console`: the real app in a terminal, no Slack needed.

The same services, Bolt app and WSGI app as `serve` (bot/container.py, bot/app.py, bot/web.py, the
inbound callbacks and workers), served on a loopback port; what you type becomes the requests
Slack would send (signed slash commands, button presses, modal submissions, thread-reply events);
the bot's Web API calls and response URLs are answered by a local stand-in for Slack that shows
what the bot posts, updates and reacts as it happens. The gateway is the sandbox unless a real
Clickatell account is configured; with CLICKATELL_API_KEY but no CLICKATELL_BASE_URL it is the
sandbox in Platform mode (the Portal's APIs), to try an API-key account without one. The
database is a temporary file (SMS_CONSOLE_DB keeps one).

    main(settings, reason=None, stdin=None, stdout=None) -> exit status
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from bot.config import Settings

README_HINT = 'To connect Slack, see "Connecting to Slack" in README.md'


def first_line(settings: Settings, reason: str | None = None) -> str:
    """What the console is, which gateway it uses and how to connect Slack: one line."""
    why = f" ({reason})" if reason else ""
    if settings.uses_sandbox:
        gateway = "the sandbox gateway (no real SMS is sent)"
    elif settings.uses_portal and not settings.clickatell_base_url_given:
        kind = {"one": "One API", "rest": "SMS REST", "http": "SMS HTTP"}
        gateway = (
            "the sandbox gateway in Clickatell Portal mode "
            f"({kind[settings.clickatell_integration]}; no real SMS is sent; set "
            "CLICKATELL_BASE_URL to use the real Portal)"
        )
    else:
        gateway = (
            f"the Clickatell gateway at {settings.clickatell_base_url} (REAL SMS are sent and "
            "charged; delivery reports go to your account's callback URLs, not here)"
        )
    return (
        f"sms-bot console{why}: the real app in this terminal, with a local stand-in for Slack "
        f"and {gateway}. {README_HINT}; type help for commands."
    )


def main(
    settings: Settings,
    *,
    reason: str | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    sandbox_options: Mapping[str, Any] | None = None,
    inbound_options: Any = None,
) -> int:
    """Run a console session until end of input or `quit`; 0 when it ended normally.

    `reason` (why the console was chosen) goes into the first line. `sandbox_options` and
    `inbound_options` (bot.inbound.Options) reach the app unchanged; tests shorten waits with
    them, a person never needs them."""
    from bot.console.render import Style
    from bot.console.runtime import Runtime
    from bot.console.session import Console
    from bot.console.terminal import Terminal, is_interactive, wants_ansi, wants_unicode

    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    _quiet_logging()
    terminal = Terminal(stdin, stdout, interactive=is_interactive(stdin, stdout))
    terminal.show([first_line(settings, reason)])
    try:
        runtime = Runtime(
            settings,
            db_path=os.environ.get("SMS_CONSOLE_DB") or None,
            sandbox_options=dict(sandbox_options or {}),
            inbound_options=inbound_options,
        )
    except Exception as error:  # e.g. the database path is unusable: one line, no traceback
        print(f"sms-bot console: could not start: {error}", file=sys.stderr)
        return 1
    style = Style(ansi=wants_ansi(stdout), unicode=wants_unicode(stdout))
    try:
        return Console(runtime, terminal, style).run()
    except KeyboardInterrupt:
        terminal.show(["", "(interrupted)"])
        return 130
    finally:
        runtime.close()


def _quiet_logging() -> None:
    """Warnings and errors on stderr; the console's own output is on stdout."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(
            level=logging.WARNING, format="sms-bot: %(levelname)s %(name)s: %(message)s"
        )


__all__ = ["first_line", "main"]
