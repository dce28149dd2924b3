"""Time helpers shared by both back-ends: aware UTC datetimes in, ISO 8601 text for SQLite."""

from __future__ import annotations

from datetime import UTC, date, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def from_iso(value: str | datetime | None) -> datetime | None:
    """ISO text (SQLite) or a datetime (PostgreSQL ``timestamptz``) -> aware datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.fromisoformat(value)


def to_day(value: str | date) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)
