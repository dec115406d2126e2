"""The bulk engine against the sandbox over HTTP: real storage (SQLite), the legacy client (or
the Portal's) talking to an in-process sandbox on a loopback port, and one ManualClock for the
sandbox, the storage stamps and the runner, so quiet hours and `at` are tested without sleeping.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.bulk_cli import CommandLinePorts
from bot.config import Settings
from bot.gateway.clickatell_http import Login, SandboxServer, build_gateway
from bot.gateway.clickatell_platform import build_gateway as build_platform_gateway
from bot.storage import open_storage
from bot.testing.clocks import ManualClock
from bot.testing.sandbox import GatewayCalls

SETTINGS = Settings(admins=frozenset({"UADMIN"}), clickatell_timeout=5.0)


@dataclasses.dataclass
class Rig:
    ports: CommandLinePorts
    sandbox: SandboxServer
    calls: GatewayCalls
    clock: ManualClock

    def sent_to(self) -> list[str]:
        """Every message the sandbox took, by number (its own count)."""
        return [m.to for m in self.sandbox.messages()]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock.from_wall_clock()


@pytest.fixture
def make_rig(tmp_path: Path, clock: ManualClock) -> Iterator[Callable[..., Rig]]:
    opened: list[Callable[[], None]] = []

    def make(
        settings: Settings = SETTINGS,
        *,
        portal: bool = False,
        database: str | None = None,
        **sandbox: object,
    ) -> Rig:
        """`database`: a storage location (a PostgreSQL URL); default a new SQLite file."""
        server = SandboxServer(balance=1e6, clock=clock, autorun=False, **sandbox).start()  # type: ignore[arg-type]
        calls = GatewayCalls(server)
        if portal:
            settings = dataclasses.replace(
                settings, clickatell_api_key="key", clickatell_integration="rest"
            )
            gateway = build_platform_gateway(settings, base_url=server.url)
            # The client's own waits (Retry-After) take no real time here.
            gateway.client._sleep = lambda seconds: None  # type: ignore[attr-defined]
        else:
            gateway = build_gateway(
                settings, base_url=server.url, login=Login("sandbox", "sandbox", "sandbox")
            )
        location = database or str(tmp_path / f"bot{len(opened)}.sqlite3")
        storage = open_storage(location, clock=clock)
        opened.append(lambda: (gateway.close(), storage.close(), server.stop()))
        return Rig(CommandLinePorts(settings, storage, gateway, True), server, calls, clock)

    yield make
    for close in opened:
        close()
