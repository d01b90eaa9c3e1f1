"""Keyset paging: opaque cursors and the limit parameter every list endpoint takes."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import Query

from api.errors import Problem

Limit = Annotated[int, Query(ge=1, le=500, description="items per page (1-500)")]
After = Annotated[
    str | None, Query(max_length=200, description="next_cursor of the previous page")
]


def encode_cursor(kind: str, value: str | int) -> str:
    """An opaque cursor for a position in one list."""
    return base64.urlsafe_b64encode(f"{kind}:{value}".encode()).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str | None) -> str | None:
    """The position a cursor of this list names; 422 if it is not one of ours."""
    if cursor is None:
        return None
    try:
        # Non-ASCII text raises ValueError here, bad base64 binascii.Error (one too).
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except ValueError:
        text = ""
    prefix, _, value = text.partition(":")
    if prefix != kind or not value:
        raise invalid_cursor()
    return value


def invalid_cursor() -> Problem:
    """422: the cursor is not one this list handed out."""
    return Problem(
        422,
        "invalid-cursor",
        "The cursor is invalid",
        "after: not a cursor of this list; pass next_cursor from the previous page",
        errors=[{"field": "after", "in": "query", "message": "unknown cursor"}],
    )


def encode_key_cursor(kind: str, key: tuple[datetime, str] | None) -> str | None:
    """The cursor after a row ordered by (instant, id), or None on the last page."""
    if key is None:
        return None
    return encode_cursor(kind, f"{key[0].isoformat()}|{key[1]}")


def decode_key_cursor(kind: str, cursor: str | None) -> tuple[datetime, str] | None:
    """The (aware instant, UUID text) a key cursor of this list names."""
    value = decode_cursor(kind, cursor)
    if value is None:
        return None
    instant, _, row_id = value.partition("|")
    try:
        moment = datetime.fromisoformat(instant)
        if moment.utcoffset() is None:
            raise ValueError(instant)
        # 9999-12-31T23:59-14:00 parses, but overflows in every comparison.
        moment.astimezone(UTC)
        return moment, str(UUID(row_id))
    except (ValueError, OverflowError):
        raise invalid_cursor() from None


def decode_int_cursor(kind: str, cursor: str | None) -> int | None:
    """A cursor holding a whole number."""
    value = decode_cursor(kind, cursor)
    if value is None:
        return None
    # str.isdigit admits other scripts' digits ("²"); a cursor is ASCII and fits 64 bits.
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        raise invalid_cursor()
    return int(value)
