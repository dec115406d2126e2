"""Block Kit builders: small pure functions from plain data to Slack messages and views.

Nothing here calls Slack, the gateway or the database; handlers gather the data and pass it in,
so every builder is unit-tested on its own. `Message` is what a handler posts: `text` is the
notification/fallback text, `blocks` the layout.
"""

from bot.blocks.base import Message, escape

__all__ = ["Message", "escape"]
