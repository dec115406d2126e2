"""The root of input refusals: a request stopped before any gateway call.

`Refused` is a `ValueError` (it is about the input, not the gateway), so parsers that catch
ValueError turn it into a usage message. Its subclasses live beside the check that raises them:
`bot.sms.numbers.InvalidNumber`, `bot.sms.encoding.TextTooLong`. Gateway failures are the other
tree, `bot.gateway.base.GatewayError`.
"""

from __future__ import annotations


class Refused(ValueError):
    """Stopped before any gateway call; the message says why in plain words."""
