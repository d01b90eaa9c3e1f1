"""Keyset paging: opaque cursors and the limit parameter every list endpoint takes."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

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
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        text = ""
    prefix, _, value = text.partition(":")
    if prefix != kind or not value:
        raise Problem(
            422,
            "invalid-cursor",
            "The cursor is invalid",
            "after: not a cursor of this list; pass next_cursor from the previous page",
            errors=[{"field": "after", "in": "query", "message": "unknown cursor"}],
        )
    return value


def decode_int_cursor(kind: str, cursor: str | None) -> int | None:
    """A cursor holding a whole number."""
    value = decode_cursor(kind, cursor)
    if value is None:
        return None
    # str.isdigit admits other scripts' digits ("²"); a cursor is ASCII and fits 64 bits.
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        raise Problem(
            422, "invalid-cursor", "The cursor is invalid", "after: unknown cursor"
        )
    return int(value)
