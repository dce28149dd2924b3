"""``newsbot migrate-store``: copy one store into another, e.g. the SQLite file into PostgreSQL."""

from __future__ import annotations

from bot.store.base import COPIED_TABLES, Store, StoreError


def copy_store(src: Store, dst: Store) -> dict[str, int]:
    """Copy articles (ids and first-seen times kept), passages and the digest ledger into an
    empty ``dst``, in one transaction; returns the rows copied per table."""
    if not dst.is_empty():
        raise StoreError(
            f"{dst.describe()} already holds articles or digests: refusing to mix two archives."
            " Copy into an empty database"
        )
    copied: dict[str, int] = {}
    with dst.transaction():
        for table in COPIED_TABLES:
            columns, rows = src.export_rows(table)
            copied[table] = dst.import_rows(table, columns, rows)
        dst.after_import()
    dst.refresh_statistics()
    if dst.counts() != src.counts():
        raise StoreError(f"copy check failed: {dst.counts()} != {src.counts()}")
    return copied
