"""Running the sandbox as a program: `sms-bot sandbox` calls `serve_forever`; `main` is the same
with its own argument parsing, for `python -m bot.gateway.clickatell_http.sandbox`.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from .server import SandboxServer


def serve_forever(*, out: TextIO | None = None, **options: Any) -> None:
    """Start a sandbox with SandboxServer's options, print one line with its URL, and serve
    until Ctrl-C (KeyboardInterrupt), then stop cleanly. Raises ValueError for bad options and
    OSError when the address cannot be bound."""
    options.setdefault("autorun", True)
    server = SandboxServer(**options)
    out = out or sys.stdout
    restore = _interrupt_on_sigterm()
    try:
        # The interrupt may come as soon as the line is out (a script read it and stops us).
        with server, contextlib.suppress(KeyboardInterrupt):
            print(
                f"Clickatell sandbox listening on {server.url} (Ctrl-C to stop)",
                file=out,
                flush=True,
            )
            threading.Event().wait()
    finally:
        restore()


def _interrupt_on_sigterm() -> Callable[[], None]:
    """Treat SIGTERM (a service manager stopping us) like Ctrl-C, so the state is saved.
    Returns what undoes it. Signals can only be set from the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    return lambda: signal.signal(signal.SIGTERM, previous)


def _port(raw: str) -> int:
    try:
        port = int(raw)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{raw} is not a port (0 to 65535; 0 picks a free one)")
    return port


def _finite(raw: str, *, positive: bool) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        need = "a positive number" if positive else "a number, 0 or more"
        raise argparse.ArgumentTypeError(f"{raw} is not {need}")
    return value


def _seconds(raw: str) -> float:
    return _finite(raw, positive=True)


def _credits(raw: str) -> float:
    return _finite(raw, positive=False)


def _delay(raw: str) -> float:
    return _finite(raw, positive=False)


def _per_second(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{raw} is not a whole number of messages, 1 or more")
    return value


def build_parser(prog: str = "sms-bot sandbox") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run the simulated Clickatell gateway as an HTTP server: the legacy HTTP API "
        "and, on the same port, the Clickatell Portal's One API, SMS REST and SMS HTTP.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    # Checked here so a bad number is a usage error naming the option, not a traceback.
    parser.add_argument("--port", type=_port, default=0, metavar="N", help="0 picks a free port")
    parser.add_argument("--session-ttl", type=_seconds, default=900.0, metavar="SECONDS")
    parser.add_argument("--callback-url", metavar="URL", help="where status callbacks go")
    parser.add_argument("--mo-url", metavar="URL", help="where replies from phones go")
    parser.add_argument("--callback-user", metavar="U")
    parser.add_argument("--callback-password", metavar="P")
    parser.add_argument(
        "--balance",
        type=_credits,
        default=100.0,
        metavar="CREDITS",
        help="credits (legacy) = ZAR (Portal), 1 a part",
    )
    parser.add_argument("--api-id", metavar="ID", help="accept only this api_id")
    parser.add_argument("--user", metavar="U", help="accept only this user")
    parser.add_argument("--password", metavar="P", help="accept only this password")
    parser.add_argument(
        "--api-key", metavar="KEY", help="Portal paths: accept only this API key (default: any)"
    )
    parser.add_argument(
        "--rate-limit",
        type=_per_second,
        metavar="PER_SECOND",
        help="Portal paths: refuse messages past this many a second, as the Portal does",
    )
    parser.add_argument(
        "--reply-delay",
        type=_delay,
        default=0.0,
        metavar="SECONDS",
        help="answer every request this long after it arrives, like a distant gateway "
        "(benchmarks: 0.05)",
    )
    parser.add_argument(
        "--state",
        dest="state_path",
        metavar="FILE",
        help="remember messages in this JSON file between runs",
    )
    return parser


def options_from(namespace: argparse.Namespace) -> dict[str, Any]:
    return {key: value for key, value in vars(namespace).items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        options = options_from(parser.parse_args(argv))
    except SystemExit as exit_:  # argparse printed the usage and the problem (or --help)
        return int(exit_.code or 0)
    try:
        serve_forever(**options)
    except (ValueError, OSError) as exc:
        print(f"sms-bot sandbox: {exc}", file=sys.stderr)
        return 1
    return 0
