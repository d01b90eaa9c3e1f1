"""The few ways SQLite and PostgreSQL differ for views: types, placeholders, values."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

import psycopg.errors

from projections.base import ColumnType


def _json_default(value: Any) -> Any:
    """JSON for the domain's scalar types: enums by value, decimals as text."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON-able in a view column")


def dumps(value: Any) -> str:
    """A value of a json column as JSON text."""
    return json.dumps(value, default=_json_default, separators=(",", ":"))


def _aware(value: Any) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise TypeError(f"a timestamp column needs an aware datetime, not {value!r}")
    return value.astimezone(UTC)


def _sqlite_timestamp(value: Any) -> str:
    # Fixed width and always UTC ("0987-06-05T04:03:02.000001Z"), so comparing
    # the text compares the instants.
    text = _aware(value).isoformat(timespec="microseconds")
    return text.removesuffix("+00:00") + "Z"


def _sqlite_missing_table(error: BaseException) -> bool:
    cause = error.__cause__ or error
    return isinstance(cause, sqlite3.OperationalError) and "no such table" in str(cause)


def _postgres_missing_table(error: BaseException) -> bool:
    return isinstance(error.__cause__ or error, psycopg.errors.UndefinedTable)


@dataclass(frozen=True)
class Dialect:
    """One backend's SQL spelling and value conversions."""

    name: str
    placeholder: str
    types: Mapping[ColumnType, str]
    bigint: str
    blob: str
    timestamp_to_db: Callable[[Any], Any]
    boolean_to_db: Callable[[bool], Any]
    json_placeholder: str
    json_from_db: Callable[[Any], Any]
    missing_table: Callable[[BaseException], bool]
    registry_lock: str | None
    """Serialises registry changes (SQLite's BEGIN IMMEDIATE already does)."""
    for_update: str
    position_column: str
    """The events table's global position column."""

    def sql(self, statement: str) -> str:
        """A statement written with `?` placeholders in this dialect's spelling."""
        if self.placeholder == "?":
            return statement
        return statement.replace("%", "%%").replace("?", self.placeholder)

    def to_db(self, column_type: ColumnType, value: Any) -> Any:
        """A Python value as the database stores it in a column of `column_type`."""
        if value is None:
            return None
        # The common cases first: projections write millions of these.
        kind = type(value)
        if kind is str and column_type == "text":
            if "\x00" in value:
                raise ValueError("a text column cannot hold a NUL character")
            return value
        if kind is int and column_type == "integer" and -(2**63) <= value < 2**63:
            return value
        if isinstance(value, Enum):
            value = value.value
        if column_type == "text":
            if isinstance(value, str | UUID | Decimal | date):
                text = value.isoformat() if isinstance(value, date) else str(value)
                if "\x00" in text:
                    raise ValueError("a text column cannot hold a NUL character")
                return text
        elif column_type == "integer":
            if isinstance(value, int) and not isinstance(value, bool):
                if not -(2**63) <= value < 2**63:
                    raise ValueError(f"{value} does not fit a 64-bit integer column")
                return value
        elif column_type == "real":
            if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
                return float(value)
        elif column_type == "boolean":
            if isinstance(value, bool):
                return self.boolean_to_db(value)
        elif column_type == "timestamp":
            return self.timestamp_to_db(value)
        elif column_type == "json":
            return dumps(value)
        raise TypeError(f"{value!r} cannot be stored in a {column_type} column")

    def from_db(self, column_type: ColumnType, value: Any) -> Any:
        """A stored value back as Python: aware UTC datetimes, bools, parsed JSON."""
        if value is None:
            return None
        if column_type == "timestamp":
            if isinstance(value, str):
                return datetime.fromisoformat(value)
            return value.astimezone(UTC)
        if column_type == "boolean":
            return bool(value)
        if column_type == "json":
            return self.json_from_db(value)
        return value

    def param(self, value: Any) -> Any:
        """A free query parameter in the form stored values take."""
        if isinstance(value, Enum):
            value = value.value
        if isinstance(value, UUID):
            return str(value)
        if isinstance(value, datetime):
            return self.timestamp_to_db(value)
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, bool):
            return self.boolean_to_db(value)
        if isinstance(value, Decimal):
            return float(value)
        return value

    def numbered(self, template: str, first: int) -> str:
        """`template` (written with `?`) in the backend's own spelling for
        `Cursor.execute_raw`: PostgreSQL's placeholders numbered from `first`
        (`$1`, `$2`, …), SQLite's left as they are."""
        if self.placeholder == "?":
            return template
        parts = template.split("?")
        numbered = [f"{part}${first + i}" for i, part in enumerate(parts[:-1])]
        return "".join(numbered) + parts[-1]

    def value_placeholder(self, column_type: ColumnType) -> str:
        """The `?` placeholder of a value written to a column of `column_type`."""
        return self.json_placeholder if column_type == "json" else "?"


SQLITE = Dialect(
    name="sqlite",
    placeholder="?",
    types={
        "text": "TEXT",
        "integer": "INTEGER",
        "real": "REAL",
        "boolean": "INTEGER",
        "timestamp": "TEXT",
        "json": "TEXT",
    },
    bigint="INTEGER",
    blob="BLOB",
    timestamp_to_db=_sqlite_timestamp,
    boolean_to_db=int,
    json_placeholder="?",
    json_from_db=json.loads,
    missing_table=_sqlite_missing_table,
    registry_lock=None,
    for_update="",
    position_column="rowid",
)

POSTGRES = Dialect(
    name="postgres",
    placeholder="%s",
    types={
        "text": "text",
        "integer": "bigint",
        "real": "double precision",
        "boolean": "boolean",
        "timestamp": "timestamptz",
        "json": "jsonb",
    },
    bigint="bigint",
    blob="bytea",
    timestamp_to_db=_aware,
    boolean_to_db=bool,
    json_placeholder="?::jsonb",
    # psycopg already parses jsonb into Python values.
    json_from_db=lambda value: value,
    missing_table=_postgres_missing_table,
    # Any constant key: registry changes are rare and short.
    registry_lock="SELECT pg_advisory_xact_lock(4242001)",
    for_update=" FOR UPDATE",
    position_column="notification_id",
)
