"""Domain values as plain JSON data: what exports, feeds and responses carry."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID


def json_number(value: Decimal) -> int | float:
    """A decimal as a JSON number (scores and volumes are short; floats hold them)."""
    return int(value) if value == value.to_integral_value() else float(value)


def plain(value: Any) -> Any:
    """A domain value as plain JSON: enums by value, decimals as numbers, dates as ISO."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return json_number(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)
        }
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value
