"""What the use cases need from the running app, beyond storage and the gateway.

The composition root's `Services` provides all of it; tests may provide their own. Each use case
asks for no more than this protocol, so it can be run without Slack or a web server.
"""

from __future__ import annotations

from typing import Protocol

from bot.config import Settings
from bot.gateway.base import Gateway
from bot.storage import Storage


class CardBoard(Protocol):
    """Where a send's card is shown (Slack, for the app)."""

    def post(self, send_id: int) -> str | None:
        """Show the card of a recorded send; None when shown (or queued), else why not."""
        ...


class AppPorts(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def storage(self) -> Storage: ...

    @property
    def gateway(self) -> Gateway: ...

    @property
    def sandboxed(self) -> bool: ...

    @property
    def cards(self) -> CardBoard: ...

    def refresh_card(self, send_id: int) -> None:
        """Make the send's card show its latest stored state (soon, coalesced)."""
        ...
