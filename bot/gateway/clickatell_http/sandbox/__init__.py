"""The built-in simulator of the Clickatell HTTP API and, on the same port, of the Clickatell
Portal's three integrations (Platform mode, `platform`; product.md §7).

`SandboxServer` is a real threaded HTTP server speaking both protocols byte for byte; the magic
numbers make the phone's side behave in each of the ways the product needs to try, in both.

Where the protocol leaves a choice, the sandbox answers like this:
- more than 100 recipients by GET or 300 by POST: `ERR: 101` for the whole call;
- a malformed or already redeemed `token_pay` voucher: `ERR: 101` (no code of its own exists);
  a redeemed voucher adds `VOUCHER_CREDIT` credits;
- a missing or wrong api_id: 108; an unknown user: 002; a missing user or password, or a wrong
  password: 001; an unknown or expired session: 003; no session and no credentials: 005;
- querymsg/delmsg/getmsgcharge without apimsgid or climsgid: 109; a climsgid shared by several
  recipients answers for the first of them, and delmsg by it cancels all of them;
- a malformed `from`: 106; an unknown `msg_type`: 112; a malformed `udh`: 102;
- more parts than `concat` (1 when absent) or than `MAX_PARTS_CEILING`: 113;
- `scheduled_time` before the current second or over 7 days ahead, `deliv_time` over 10080
  minutes: 120; given both, `scheduled_time` wins;
- a message over `max_credits` is accepted and blocked (status 009, no charge); a cancelled
  message (006) is refunded;
- `callback=7` reports every status change, 011 and 006 included;
- phones' replies are recorded (`mo_messages()`) even when no MO URL is configured.
"""

from .commands import COST_PER_PART, MAX_RECIPIENTS, VOUCHER_CREDIT
from .outbox import RETRY_DELAYS, Delivery
from .phone import (
    MAGIC_NUMBERS,
    NUMBER_DELIVERY_FAILS,
    NUMBER_ECHOES,
    NUMBER_NEVER_REPORTS,
    NUMBER_OPTED_OUT_AT_GATEWAY,
    NUMBER_OPTS_OUT,
    NUMBER_REPLIES_UNICODE,
    NUMBER_STAYS_AT_GATEWAY,
    NUMBER_UNROUTABLE,
    SANDBOX_TWO_WAY_NUMBER,
    UNICODE_REPLY_TEXT,
)
from .run import build_parser, main, serve_forever
from .server import SandboxServer, SentMessage
from .state import MoRecord
from .text import MAX_PARTS_CEILING

__all__ = [
    "COST_PER_PART",
    "MAGIC_NUMBERS",
    "MAX_PARTS_CEILING",
    "MAX_RECIPIENTS",
    "NUMBER_DELIVERY_FAILS",
    "NUMBER_ECHOES",
    "NUMBER_NEVER_REPORTS",
    "NUMBER_OPTED_OUT_AT_GATEWAY",
    "NUMBER_OPTS_OUT",
    "NUMBER_REPLIES_UNICODE",
    "NUMBER_STAYS_AT_GATEWAY",
    "NUMBER_UNROUTABLE",
    "RETRY_DELAYS",
    "SANDBOX_TWO_WAY_NUMBER",
    "UNICODE_REPLY_TEXT",
    "VOUCHER_CREDIT",
    "Delivery",
    "MoRecord",
    "SandboxServer",
    "SentMessage",
    "build_parser",
    "main",
    "serve_forever",
]
