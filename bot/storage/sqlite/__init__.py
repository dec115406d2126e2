"""The SQLite adapter of the storage port: the only package that imports `sqlite3`.

Layout: `database` (connections, transactions, error translation), `schema` (migrations),
`rows` (columns to records), one module per aggregate or two related ones (`sends`,
`contacts` with opt-outs, `conversations`, `inbox` with multi-part SMS, `outbox`, `state` with
claims and values), and `storage`, which puts them together.
"""

from bot.storage.sqlite.database import SqliteDatabase
from bot.storage.sqlite.schema import SCHEMA_VERSION
from bot.storage.sqlite.storage import SqliteStorage

__all__ = ["SCHEMA_VERSION", "SqliteDatabase", "SqliteStorage"]
