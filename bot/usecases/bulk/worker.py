"""The background step that drives every bulk run (`serve`, the console, the tests' app).

Each pass starts the scheduled runs whose time has come, then gives every running run a slice
of time (`SLICE` seconds of sending) in turn, so one long run neither starves another nor keeps
the worker from stopping. It returns the pause until a row or a run is due again (at most
`IDLE`: a run just started by a person is picked up within that).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.domain.bulk import RunState
from bot.usecases.bulk.control import due_scheduled
from bot.usecases.bulk.runner import BulkRunner
from bot.usecases.ports import AppPorts

SLICE = 5.0  # seconds of sending per run per pass
IDLE = 1.0  # the longest pause: how soon a new run starts


class BulkDriver:
    def __init__(
        self,
        ports: AppPorts,
        *,
        clock: Callable[[], datetime],
        runner: BulkRunner | None = None,
    ) -> None:
        self.ports = ports
        self.clock = clock
        self.runner = runner or BulkRunner(ports, clock=clock)

    def step(self) -> float:
        now = self.clock()
        pause = IDLE
        for bulk_id in due_scheduled(self.ports, now):
            result = self.runner.drive(bulk_id, budget=SLICE)
            if result.state is RunState.RUNNING and result.next_due is not None:
                pause = min(pause, (result.next_due - self.clock()).total_seconds())
        for run in self.ports.storage.bulks.runs([RunState.SCHEDULED], limit=1000):
            if run.at is not None:
                pause = min(pause, (run.at - self.clock()).total_seconds())
        return max(pause, 0.0)

    def close(self) -> None:
        self.runner.close()
