"""What SMS_BOT_DB names, told apart without loading a database driver: a PostgreSQL URL or a
SQLite file path. Configuration and `open_storage` both ask, so the two always agree."""

from __future__ import annotations

import os

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(location: str | os.PathLike[str]) -> bool:
    """True for `postgresql://…` and `postgres://…` (libpq takes both), any case."""
    return isinstance(location, str) and location.strip().lower().startswith(POSTGRES_SCHEMES)
