"""How values are stored in the columns: the one codec for aware datetimes and the one for dates."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

# SQLAlchemy's SQLite DATETIME text: naive UTC with microseconds, so text order is time order
_SQLITE_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def stored_datetime(value: datetime, sqlite: bool) -> Any:
    """An aware datetime as the column stores it: naive UTC text on SQLite, aware UTC on PostgreSQL."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the database; use bot.clock")
    utc = value.astimezone(UTC)
    if not sqlite:
        return utc
    if utc.year >= 1000:  # isoformat writes the same text at half strftime's cost (the hot path stores times)
        return utc.replace(tzinfo=None).isoformat(" ", "microseconds")
    return utc.strftime(_SQLITE_FORMAT)


def loaded_datetime(value: Any) -> datetime:
    """A stored datetime read back by a raw cursor or a column: aware UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
    return value.astimezone(UTC)  # type: ignore[no-any-return]


def stored_date(value: date | None, sqlite: bool) -> Any:
    """A date as the column stores it: ISO text on SQLite, a date on PostgreSQL."""
    return value.isoformat() if sqlite and value is not None else value


def loaded_date(value: Any) -> date:
    """A stored date read back by a raw cursor: a date."""
    return date.fromisoformat(value) if isinstance(value, str) else value  # type: ignore[no-any-return]
