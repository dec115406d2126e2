"""Group commit of the callback endpoints, over real HTTP, on SQLite and on PostgreSQL: concurrent
callbacks share one commit and are each acknowledged only after it; a duplicate is recognised
inside one batch and across batches; a failed commit (or a PostgreSQL server stopped under the
writer) answers 503 to every request of its batch and stores none of it; a full queue answers 503
at once.

The storage is real (a SQLite file; a database on the throwaway PostgreSQL cluster). Faults are
injected by a wrapper at the storage port (`HeldInbox`): it can hold a batch until enough
callbacks wait behind it (so the next batch is known to hold them all), and can make a batch
fail after its rows were written inside the transaction, as a commit that fails does.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
import requests

from bot.domain.records import CallbackKind
from bot.gateway.clickatell_http.decoder import ClickatellHttpCallbacks
from bot.inbound.endpoints import CallbackEndpoints, Credentials, InboxWriter
from bot.serve import HttpServer
from bot.storage import Storage, StorageUnavailable, open_storage
from bot.storage.base import InboxRepository
from bot.testing.callbacks import FORM, form, status_params
from bot.testing.waiting import wait_for
from bot.web import MO_PATH, STATUS_PATH, WebApp
from tests.support.postgres import ThrowawayCluster

AUTH = ("clickatell", "group-commit-password")
API_ID = "3123456"
ANSWER_WITHIN = 10.0  # the test's patience for one answer (a passing test never waits it out)
# A held batch must not count as a stuck writer (which answers 503) while the test sets it up.
PATIENT = {"wait": 8.0, "stuck_after": 8.0}


@dataclass
class HeldInbox:
    """The real inbox repository, with the writer's batch write observable and breakable."""

    storage: Storage
    real: InboxRepository
    batches: list[int] = field(default_factory=list)
    hold_until: Callable[[], bool] | None = None  # hold the next batch until this is true
    failing: bool = False  # each batch is written, then its transaction fails (rolled back)

    def store_many(
        self,
        items: Sequence[tuple[CallbackKind, str, bytes]],
        received_at: datetime | None = None,
    ) -> list[bool]:
        self.batches.append(len(items))
        if self.hold_until is not None:
            held, self.hold_until = self.hold_until, None
            wait_for(held, what="callbacks waiting behind the held batch")
        if not self.failing:
            return self.real.store_many(items, received_at)
        with self.storage.transaction():
            self.real.store_many(items, received_at)  # the rows are in; the commit fails
            raise StorageUnavailable("the commit failed (injected at the storage port)")

    def __getattr__(self, name: str) -> object:
        return getattr(self.real, name)


class PortWrapper:
    """The storage as the writer sees it: the real one, with `inbox` replaced."""

    def __init__(self, storage: Storage, inbox: HeldInbox) -> None:
        self._storage, self.inbox = storage, inbox

    def __getattr__(self, name: str) -> object:
        return getattr(self._storage, name)


@dataclass
class Served:
    url: str
    storage: Storage
    inbox: HeldInbox
    writer: InboxWriter
    http: requests.Session

    def deliver(self, apimsgid: str, status: str = "004") -> requests.Response:
        return self.http.post(
            self.url + STATUS_PATH,
            data=form(status_params(apimsgid, status, api_id=API_ID)),
            headers=FORM,
            auth=AUTH,
            timeout=ANSWER_WITHIN,
        )

    def stored_keys(self) -> list[str]:
        return [item.unique_key for item in self.storage.inbox.unprocessed(limit=10_000)]


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "group.sqlite3")
    return str(request.getfixturevalue("postgres_url"))


@contextmanager
def serve(location: str, max_waiting: int = 1024) -> Iterator[Served]:
    storage = open_storage(location)
    inbox = HeldInbox(storage, storage.inbox)
    port = PortWrapper(storage, inbox)
    writer = InboxWriter(port, max_waiting=max_waiting, **PATIENT)  # type: ignore[arg-type]
    endpoints = CallbackEndpoints(
        storage,
        decoder=ClickatellHttpCallbacks(API_ID),
        credentials=Credentials(*AUTH),
        store=writer.store,
    )
    server = HttpServer("127.0.0.1", 0, threads=16)
    server.serve(WebApp(endpoints.routes(STATUS_PATH, MO_PATH)))
    writer.start()
    http = requests.Session()
    http.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=32))
    try:
        yield Served(server.url, storage, inbox, writer, http)
    finally:
        http.close()
        server.stop()
        writer.stop()
        storage.close()


@pytest.fixture
def served(database: str) -> Iterator[Served]:
    with serve(database) as running:
        yield running


def _all_at_once(served: Served, ids: list[str]) -> list[requests.Response]:
    with ThreadPoolExecutor(len(ids)) as pool:
        return list(pool.map(served.deliver, ids))


def _first_alone_then_one_batch(
    served: Served, ids: list[str], when_all_wait: Callable[[], None] = lambda: None
) -> list[requests.Response]:
    """The first callback's batch is held until all the others wait behind it (then
    `when_all_wait` runs), so the next commit takes every one of them together; the answers in
    the order of `ids`."""

    def all_waiting() -> bool:
        if served.writer.waiting() < len(ids) - 1:
            return False
        when_all_wait()
        return True

    served.inbox.hold_until = all_waiting
    with ThreadPoolExecutor(len(ids)) as pool:
        started = pool.submit(served.deliver, ids[0])
        wait_for(lambda: served.inbox.batches, what="the first batch")
        rest = pool.map(served.deliver, ids[1:])  # all submitted now
        return [started.result(), *rest]


def test_concurrent_callbacks_share_commits_and_are_each_stored_once(served: Served) -> None:
    # Every callback delivered twice, all at once: as many as the listener has threads.
    ids = [f"{i:032x}" for i in range(8)] * 2
    answers = _first_alone_then_one_batch(served, ids)
    assert [a.status_code for a in answers] == [200] * len(ids)
    assert Counter(a.text for a in answers) == {"OK\n": 8, "OK (duplicate)\n": 8}
    assert served.inbox.batches == [1, len(ids) - 1]  # one commit for 15 callbacks
    assert sorted(served.stored_keys()) == sorted(f"{i:032x}:004" for i in range(8))
    # Across batches too: delivered again later, each is recognised and stored no more.
    again = _all_at_once(served, ids[:8])
    assert {a.text for a in again} == {"OK (duplicate)\n"}
    assert len(served.stored_keys()) == 8


def test_many_concurrent_callbacks_all_answered_200_and_stored_once(served: Served) -> None:
    ids = [f"{i:032x}" for i in range(60)] * 2
    answers = _all_at_once(served, ids)
    assert {a.status_code for a in answers} == {200}
    assert sum(a.text == "OK\n" for a in answers) == 60
    keys = served.stored_keys()
    assert len(keys) == len(set(keys)) == 60
    assert sum(served.inbox.batches) == len(ids)


def test_a_failed_commit_answers_503_to_its_whole_batch_and_stores_none(served: Served) -> None:
    ids = [f"{i:032x}" for i in range(10)]
    served.inbox.failing = True
    answers = _first_alone_then_one_batch(served, ids)
    assert served.inbox.batches == [1, len(ids) - 1]
    assert [a.status_code for a in answers] == [503] * len(ids)
    assert {a.headers.get("Retry-After") for a in answers} == {"30"}
    assert served.stored_keys() == []  # nothing of either batch, not half of one
    # The gateway retries: now the commit works and each is stored once.
    served.inbox.failing = False
    retried = _all_at_once(served, ids)
    assert {(a.status_code, a.text) for a in retried} == {(200, "OK\n")}
    assert sorted(served.stored_keys()) == sorted(f"{i}:004" for i in ids)


def test_a_full_queue_answers_503_at_once(tmp_path: Path) -> None:
    with serve(str(tmp_path / "full.sqlite3"), max_waiting=4) as served:
        release = threading.Event()
        served.inbox.hold_until = release.is_set  # the writer is stuck on its first batch
        with ThreadPoolExecutor(8) as pool:
            accepted = [pool.submit(served.deliver, f"{0:032x}")]
            wait_for(lambda: served.inbox.batches, what="the held first batch")
            accepted += [pool.submit(served.deliver, f"{i:032x}") for i in range(1, 5)]
            wait_for(lambda: served.writer.waiting() == 4, what="a full queue")
            # While the queue is full, more callbacks are refused at once, not queued.
            refused = [served.deliver(f"{i:032x}") for i in range(5, 8)]
            assert [a.status_code for a in refused] == [503] * 3
            assert not any(future.done() for future in accepted)
            release.set()
            assert [f.result().status_code for f in accepted] == [200] * 5
        assert served.inbox.batches == [1, 4]
        assert len(served.stored_keys()) == 5


def test_a_batch_cut_off_by_a_stopped_postgresql_answers_503_and_retries_store_each_once(
    postgres_cluster: ThrowawayCluster, postgres_url: str
) -> None:
    """The real fault: the server goes away while callbacks wait for their commit. A 503 promises
    only that nothing was acknowledged: a batch still waiting for a connection (psycopg_pool
    waits out its acquire timeout) may be written once the server is back. The gateway's retries
    then find it stored, so each callback is kept exactly once either way."""
    ids = [f"{i:032x}" for i in range(8)]
    with serve(postgres_url) as served:
        # Fast shutdown once all wait: every session is ended under the writer.
        answers = _first_alone_then_one_batch(served, ids, postgres_cluster.stop)
        assert served.inbox.batches == [1, len(ids) - 1]
        assert [a.status_code for a in answers] == [503] * len(ids)
        postgres_cluster.start()
        assert set(served.stored_keys()) <= {f"{i}:004" for i in ids}
        retried = _all_at_once(served, ids)
        assert {a.status_code for a in retried} == {200}
        assert sorted(served.stored_keys()) == sorted(f"{i}:004" for i in ids)
