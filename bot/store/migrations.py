"""Versioned schema migrations, applied at open under a lock (one process migrates, the others
wait and then find nothing to do). ``meta.schema_version`` holds the last applied version."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bot.store.base import StoreError

# (version, statements). Append only: a released migration never changes.
Migration = tuple[int, Sequence[str]]


def latest(migrations: Sequence[Migration]) -> int:
    return migrations[-1][0]


def pending(current: int, migrations: Sequence[Migration], where: str) -> list[Migration]:
    """The migrations after ``current``; a database from a newer newsbot is refused."""
    if current > latest(migrations):
        raise StoreError(
            f"{where} has schema version {current}, newer than this newsbot knows"
            f" ({latest(migrations)}): upgrade newsbot on this host"
        )
    return [m for m in migrations if m[0] > current]


def apply(
    current: int,
    migrations: Sequence[Migration],
    where: str,
    execute: Callable[[str], object],
    set_version: Callable[[int], object],
) -> int:
    """Run what is pending (the caller holds the lock and the transaction); the new version."""
    for version, statements in pending(current, migrations, where):
        for statement in statements:
            execute(statement)
        set_version(version)
        current = version
    return current
