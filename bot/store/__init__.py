"""The store package: one interface (:class:`Store`), a SQLite and a PostgreSQL implementation.

``open_store(target)`` picks the back-end: a ``postgresql://`` URL opens PostgreSQL (psycopg is
imported only then), anything else is a SQLite file path.
"""

from __future__ import annotations

from pathlib import Path

from bot.store.base import LedgerRow, Store, StoreError, is_url
from bot.store.sqlite import SCHEMA_VERSION, SqliteStore, connect, transaction
from bot.store.times import from_iso, to_iso, utcnow


def open_store(target: str | Path) -> Store:
    """Open (creating or migrating) the store at a file path or a PostgreSQL URL."""
    if is_url(target):
        from bot.store.postgres import PostgresStore

        return PostgresStore(str(target))
    return SqliteStore.open_path(target)


def describe(target: str | Path) -> str:
    """The target, safe to print (a URL without its password)."""
    if is_url(target):
        from bot.store.postgres import safe_url

        return safe_url(str(target))
    return str(target)


__all__ = [
    "SCHEMA_VERSION",
    "LedgerRow",
    "SqliteStore",
    "Store",
    "StoreError",
    "connect",
    "describe",
    "from_iso",
    "is_url",
    "open_store",
    "to_iso",
    "transaction",
    "utcnow",
]
