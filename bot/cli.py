"""The `sms-bot` command line (product.md §4).

`serve` (the default) and `console` run the app and live in `bot.serve` and `bot.console`;
`sandbox` runs the simulated gateway; the gateway commands are in `bot.gateway_cli`. `python -m
bot` is the same program.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import sys
from collections.abc import Sequence
from typing import TextIO

from bot import grammar
from bot.config import ConfigError, load_settings
from bot.gateway_cli import EXIT_USAGE, GATEWAY_COMMANDS
from bot.gateway_cli import run as run_gateway_command

APP_COMMANDS = {
    "serve": ("bot.serve", "run the app (HTTP listener; Socket Mode when SLACK_APP_TOKEN is set)"),
    "console": ("bot.console", "the app in a terminal, no Slack needed: type /sms commands"),
}
SANDBOX_USAGE = (  # every option of the sandbox's parser (tests/test_cli.py keeps them in step)
    "sms-bot sandbox [--host HOST] [--port N] [--session-ttl SECONDS] [--callback-url URL]\n"
    "                [--mo-url URL] [--callback-user U --callback-password P] [--balance CREDITS]\n"
    "                [--api-id ID --user U --password P] [--api-key KEY]\n"
    "                [--rate-limit PER_SECOND] [--reply-delay SECONDS] [--state FILE]"
)


def help_text() -> str:
    lines = ["Usage: sms-bot [COMMAND] …", ""]
    for word, (_, what) in APP_COMMANDS.items():
        lines += [f"sms-bot {word}", f"    {what}"]
    lines += [SANDBOX_USAGE, "    run the simulated Clickatell gateway as an HTTP server"]
    lines.append(grammar.help_text(grammar.PROGRAM, GATEWAY_COMMANDS))
    lines += [
        "",
        "Gateway commands take --json (sms-bot balance --json, sms-bot coverage NUMBER --json)",
        "and then print exactly one JSON object. Exit codes: 0 done, 1 failed, 2 usage or",
        "configuration error. Without CLICKATELL_API_ID or CLICKATELL_API_KEY they use the",
        "sandbox gateway.",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    word = words[0] if words else "serve"
    if word in ("-h", "--help", "help"):
        print(help_text())
        return 0
    if word == "--version":
        print(f"sms-bot {_version()}")
        return 0
    if word in APP_COMMANDS:
        return _app(word, words[1:])
    if word == "sandbox":
        return _sandbox(words[1:])
    if word in GATEWAY_COMMANDS:
        if _asks_for_help(words):
            print(f"Usage: {grammar.usage_line(word, grammar.PROGRAM)}")
            return 0
        return run_gateway_command(words)
    if word in ("contact", "contacts", "template", "templates", "group", "groups", "log"):
        return _fail(f"'{word}' is a Slack command: use it in Slack or in 'sms-bot console'.")
    return _fail(f"unknown command {word!r}; see 'sms-bot --help'.")


def _version() -> str:
    try:
        return importlib.metadata.version("sms-bot")
    except importlib.metadata.PackageNotFoundError:  # running from a checkout, not installed
        return "(not installed)"


def _fail(message: str, stream: TextIO | None = None) -> int:
    print(f"sms-bot: {message}", file=stream or sys.stderr)
    return EXIT_USAGE


def _asks_for_help(words: list[str]) -> bool:
    options = words[1 : words.index("--")] if "--" in words else words[1:]
    return any(w in ("-h", "--help") for w in options)


def _app(word: str, rest: list[str]) -> int:
    """`serve` and `console`: load settings and hand over to `<module>.main(settings)`."""
    if rest:
        return _fail(f"{word} takes no arguments; configure it with environment variables.")
    module_name = APP_COMMANDS[word][0]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name not in (module_name, *_parents(module_name)):
            raise  # a missing dependency inside the module is a real error, not "not built"
        return _fail(f"'{word}' is not available in this installation.")
    entry = getattr(module, "main", None)
    if entry is None:
        return _fail(f"'{word}' is not available in this installation.")
    try:
        settings = load_settings()
    except ConfigError as error:
        return _fail(str(error))
    return int(entry(settings) or 0)


def _parents(module_name: str) -> list[str]:
    parts = module_name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _sandbox(rest: list[str]) -> int:
    from bot.gateway.clickatell_http.sandbox import build_parser, serve_forever

    parser = build_parser("sms-bot sandbox")
    try:
        options = vars(parser.parse_args(rest))
    except SystemExit as exit_:  # argparse printed the usage and the problem
        return int(exit_.code or 0)
    try:
        serve_forever(**options)
    except ValueError as error:
        return _fail(str(error))
    except OSError as error:
        print(f"sms-bot sandbox: {error}", file=sys.stderr)
        return 1
    return 0
