"""One serving process per SQLite database: a lock held for the process's life.

Two `sms-bot serve` processes on one file both run the inbox processor and the Slack outbox;
SQLite serialises their writes but not their work, so both post the same SMS (a rolling deploy or
a debugging run beside the service did exactly that). The first process to serve takes an
exclusive `flock` on a lock file beside the database and keeps it until it closes the storage;
the kernel drops it when the process dies, however it dies, so a crash never leaves the database
held. A second one is refused at once, told which process holds it. The command line (`send`,
`bulk`, ...) shares the database without serving it and takes no lock.
"""

from __future__ import annotations

import fcntl
import os

from bot.storage.base import StorageError

SUFFIX = "-serve.lock"


class ServeLock:
    """The lock file `<database>-serve.lock`, holding the serving process's PID."""

    def __init__(self, database_path: str):
        self.database_path = database_path
        self.path = database_path + SUFFIX
        self._fd: int | None = None

    def acquire(self) -> None:
        """Hold the database for this process; StorageError naming the holder if another has
        it. Holding it already is fine."""
        if self._fd is not None:
            return
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            raise StorageError(f"cannot create the lock file {self.path}: {error}") from error
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _read_pid(fd)
            os.close(fd)
            raise StorageError(
                f"another sms-bot serve ({holder}) is using the database {self.database_path}; "
                "one serve per SQLite database: stop the other first (several replicas need "
                "PostgreSQL)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the descriptor drops the lock


def _read_pid(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        text = ""
    return f"pid {text}" if text.isdigit() else "another process"
