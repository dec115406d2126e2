"""What a PostgreSQL failure means to the bot, said without the password.

Two classes matter above storage (base.py): `StorageUnavailable` (try again later: the server is
restarting, refusing connections, shutting us down, or a transaction lost a race) and
`StorageError` (a setting or the data is wrong: a bad URL, a wrong password, a missing database,
a constraint). Workers wait out the first and count the second against the work item, and
callbacks answer 503 to the first, so the line between them decides whether the gateway retries.

Messages name the database by its URL with the password removed, and any text the driver
produced is scrubbed of the password too (libpq quotes parts of a bad URL back, password
included).
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import psycopg
import psycopg.errors as pg_errors
from psycopg_pool import PoolClosed, PoolTimeout, TooManyRequests

from bot.storage.base import StorageError, StorageUnavailable

# Server answers that pass by themselves (SQLSTATE classes and codes).
_TRANSIENT_CLASSES = ("08", "40", "53", "57")  # connection, rollback, resources, operator
_TRANSIENT_CODES = {
    "55P03",  # lock_not_available (lock_timeout)
    "25006",  # read_only_sql_transaction: a standby, or a primary being failed over
    "58030",  # io_error
}
# Connection failures carry no SQLSTATE (libpq reports them before any query): these words mean
# the setting is wrong, anything else (refused, timed out, starting up) that the server is away.
_CONFIG_WORDS = (
    "password authentication failed",
    "authentication failed",
    "no password supplied",
    "does not exist",
    "no pg_hba.conf entry",
    "invalid connection option",
    "invalid URI",
    "invalid percent-encoded",
    "invalid integer value",
    "invalid sslmode",
)


class Redactor:
    """Turns a connection URL into words that are safe to print, and scrubs its password from
    any text."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.safe_url = redact_url(url)
        self._secrets = _password_forms(url)

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return " ".join(text.split())  # one line: libpq's messages span several

    def error(self, error: BaseException, *, doing: str = "") -> StorageError:
        """The storage error for a driver or pool error, its message safe to print."""
        kind = StorageUnavailable if is_transient(error) else StorageError
        what = f" ({doing})" if doing else ""
        return kind(f"database {self.safe_url}{what}: {self.scrub(describe(error))}")


def describe(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.removeprefix("connection failed: ")


def is_transient(error: BaseException) -> bool:
    """Whether trying again later can succeed without anyone changing a setting."""
    if isinstance(error, PoolTimeout | PoolClosed | TooManyRequests):
        return True
    if isinstance(error, psycopg.InterfaceError):
        return True  # the connection was closed under us
    if isinstance(error, pg_errors.SerializationFailure | pg_errors.DeadlockDetected):
        return True
    if not isinstance(error, psycopg.Error):
        return False
    code = error.sqlstate
    if code is not None:
        return code in _TRANSIENT_CODES or code[:2] in _TRANSIENT_CLASSES
    if isinstance(error, psycopg.OperationalError):
        text = str(error)
        return not any(words in text for words in _CONFIG_WORDS)
    return False


def redact_url(url: str) -> str:
    """`postgresql://user:secret@host/db` -> `postgresql://user@host/db` (also for a URL too
    broken to parse: then only its scheme and host part are kept, password-free)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return re.sub(r"//[^@/]*@", "//***@", url.split("?", 1)[0])
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit((parts.scheme, f"{user}{host}{port}", parts.path, "", ""))


def _password_forms(url: str) -> list[str]:
    """The password as it may appear in text: as written in the URL and decoded."""
    match = re.match(r"^[a-z]+://[^:/@]*:([^@]*)@", url)
    written = match.group(1) if match else ""
    forms = {written, unquote(written), quote(unquote(written), safe="")}
    if query_password := re.search(r"[?&]password=([^&]*)", url):
        forms |= {query_password.group(1), unquote(query_password.group(1))}
    return sorted((form for form in forms if form), key=len, reverse=True)
