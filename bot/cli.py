"""The `sms-bot` command line (product.md §4)."""

import sys


def main(argv: list[str] | None = None) -> int:
    print("sms-bot: not built yet", file=sys.stderr)
    return 2
