"""The PostgreSQL adapter of the storage port: the only package that imports `psycopg`.

Layout mirrors the SQLite adapter: `database` (the pool, units of work), `errors` (what a
failure means, said without the password), `schema` (migrations under an advisory lock), `rows`
(columns to records), one module per aggregate or two related ones (`sends`, `contacts` with
opt-outs, `conversations`, `inbox` with multi-part SMS, `outbox`, `state` with claims and
values), and `storage`, which puts them together.
"""

from bot.storage.postgres.schema import SCHEMA_VERSION
from bot.storage.postgres.storage import PostgresStorage

__all__ = ["SCHEMA_VERSION", "PostgresStorage"]
