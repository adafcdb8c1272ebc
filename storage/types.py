"""The column types of our own: kept apart from storage.models so the generated Core tables need no sqlmodel."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, TypeDecorator
from sqlalchemy.dialects import sqlite

from storage.codecs import loaded_datetime, stored_datetime


class _SQLiteStoredText(sqlite.DATETIME):
    """SQLite DATETIME whose bound value is already the stored text (storage.codecs made it)."""

    def bind_processor(self, dialect: Any) -> None:
        return None


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (which has no zones) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_SQLiteStoredText())
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Any) -> Any:
        return None if value is None else stored_datetime(value, dialect.name == "sqlite")

    def process_result_value(self, value: Any, dialect: Any) -> datetime | None:
        return None if value is None else loaded_datetime(value)
