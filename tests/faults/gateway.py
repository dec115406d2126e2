"""A gateway that misbehaves once: a fault-injecting proxy in front of the sandbox.

`FaultyGateway` is a `ScriptedGateway` in upstream mode: every request is forwarded to the sandbox
except the `nth` `sendmsg`, which meets the fault. "after" faults forward the send first, so the
gateway has taken it (every phone gets it) and only the answer goes wrong; "before" faults never
reach the sandbox. A held answer (`TIMEOUT`) is released by `release()`, which the client's
injected sleep calls once it has given up: the reply then lands on a closed connection.
"""

from __future__ import annotations

import itertools
import threading
from enum import Enum

from bot.testing.gateway import Reply, Request, ScriptedGateway


class Fault(Enum):
    TIMEOUT = "no answer within the client's timeout (the gateway took the send)"
    DROP_AFTER = "connection dropped after the gateway took the send"
    DROP_BEFORE = "connection dropped before the send reached the gateway"
    ERROR_901_AFTER = "901 internal error after the gateway took the send"
    ERROR_901_BEFORE = "901 internal error, send not taken"
    SESSION_EXPIRED = "003 session expired"


_TAKEN = {Fault.TIMEOUT, Fault.DROP_AFTER, Fault.ERROR_901_AFTER}


class FaultyGateway(ScriptedGateway):
    def __init__(self, upstream: str, fault: Fault, *, nth: int = 1):
        self.fault = fault
        self.nth = nth
        self.released = threading.Event()
        self._sendmsgs = itertools.count(1)
        super().__init__(self._misbehave, upstream=upstream)

    @property
    def takes_the_send(self) -> bool:
        """Whether the faulty sendmsg reached the sandbox."""
        return self.fault in _TAKEN

    def release(self) -> None:
        self.released.set()

    def _misbehave(self, request: Request) -> Reply | None:
        if request.command != "sendmsg" or next(self._sendmsgs) != self.nth:
            return None  # forwarded unchanged
        if self.fault is Fault.DROP_BEFORE:
            return Reply(drop=True)
        if self.fault is Fault.ERROR_901_BEFORE:
            return Reply("ERR: 901, Internal error")
        if self.fault is Fault.SESSION_EXPIRED:
            return Reply("ERR: 003, Session ID expired")
        taken = self._forward(request)
        if self.fault is Fault.TIMEOUT:
            return Reply(taken.body, hold=self.released)
        if self.fault is Fault.DROP_AFTER:
            return Reply(drop=True)
        return Reply("ERR: 901, Internal error")
