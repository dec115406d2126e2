"""How many connections the HTTP listener holds, and for how long (waitress underneath).

waitress reads requests on one event loop and hands only complete ones to its threads, so a
connection that never finishes its request costs a socket, not a thread. What it does not bound
by itself: with its defaults it stops accepting at 100 open connections (so 100 idle or slowloris
connections shut every path out: callbacks, Slack, /healthz), and it closes a connection only
after 120 s without a byte, which a client sending one byte every few seconds never reaches.

`ListenerLimits` sets both: many more connections (the event loop polls, so descriptors above
1024 work), a deadline for receiving each request from its first byte (however it trickles in),
and a shorter idle timeout between requests. These bound what one client can hold; a deployment
still puts a buffering proxy with header and body timeouts in front (deploy/Caddyfile), so that
slow clients wait there and never reach this listener.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher

CONNECTION_LIMIT = 1000
REQUEST_DEADLINE = 10.0  # seconds from a request's first byte to its last (64 KiB at most)
IDLE_TIMEOUT = 30.0  # seconds a kept-alive connection may wait for its next request
CHECK_INTERVAL = 1  # seconds between checks (waitress counts whole seconds)


@dataclass(frozen=True)
class ListenerLimits:
    connection_limit: int = CONNECTION_LIMIT
    request_deadline: float = REQUEST_DEADLINE
    idle_timeout: float = IDLE_TIMEOUT
    clock: Callable[[], float] = field(default=time.monotonic)


class GuardedChannel(HTTPChannel):
    """A connection that remembers when its unfinished request began and when it last heard
    from the client, on the listener's clock."""

    def __init__(self, server: GuardedServer, *args: Any, **kwargs: Any) -> None:
        self.receiving_since: float | None = None
        self.heard_at = server.limits.clock()
        super().__init__(server, *args, **kwargs)

    def received(self, data: bytes) -> bool:
        now = self.server.limits.clock()
        if self.request is None and data:
            self.receiving_since = now  # this data begins a request
        self.heard_at = now
        done = super().received(data)
        if self.request is None:
            self.receiving_since = None  # complete: handed to a thread
        return done

    def overdue(self, now: float, limits: ListenerLimits) -> bool:
        """Still receiving a request past its deadline, or idle past the idle timeout. A
        connection whose request is being answered is never overdue."""
        if self.requests:
            return False
        if self.receiving_since is not None:
            return now - self.receiving_since > limits.request_deadline
        return now - self.heard_at > limits.idle_timeout


class GuardedServer(TcpWSGIServer):
    """waitress's TCP server with `GuardedChannel`s, closing the overdue ones at every check."""

    channel_class = GuardedChannel

    def __init__(self, *args: Any, limits: ListenerLimits, **kwargs: Any) -> None:
        self.limits = limits
        super().__init__(*args, **kwargs)

    def maintenance(self, now: float) -> None:
        """Replaces waitress's idle check (real time, idle only) with both of ours."""
        clock_now = self.limits.clock()
        for channel in list(self.active_channels.values()):
            if isinstance(channel, GuardedChannel) and channel.overdue(clock_now, self.limits):
                channel.will_close = True  # the event loop closes it at its next turn


def create_guarded_server(
    app: Callable[..., Any], host: str, port: int, threads: int, limits: ListenerLimits, **kw: Any
) -> GuardedServer:
    """One listening socket on (host, port); `kw` are further waitress adjustments."""
    adj = Adjustments(
        host=host,
        port=port,
        threads=threads,
        connection_limit=limits.connection_limit,
        cleanup_interval=CHECK_INTERVAL,
        channel_timeout=max(1, int(limits.idle_timeout)),
        asyncore_use_poll=True,  # select() fails on descriptors above 1024
        **kw,
    )
    dispatcher = ThreadedTaskDispatcher()
    dispatcher.set_thread_count(adj.threads)
    return GuardedServer(
        app, map={}, dispatcher=dispatcher, adj=adj, sockinfo=adj.listen[0], limits=limits
    )
