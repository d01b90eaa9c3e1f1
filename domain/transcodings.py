"""JSON transcodings so dates, enums and value types come back as themselves."""

from __future__ import annotations

import dataclasses
from datetime import date
from enum import Enum
from typing import Any

from eventsourcing.persistence import JSONTranscoder, Transcoding

from domain.values import STORED_ENUMS, STORED_VALUES


class DateAsISO(Transcoding):
    """A calendar date as YYYY-MM-DD (the library only knows datetimes)."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class EnumAsValue(Transcoding):
    """An enum member as its value, decoded back into the member."""

    def __init__(self, enum_cls: type[Enum]) -> None:
        self.type = enum_cls
        self.name = f"care.{enum_cls.__name__}"

    def encode(self, obj: Enum) -> Any:
        return obj.value

    def decode(self, data: Any) -> Enum:
        return self.type(data)


class DataclassAsDict(Transcoding):
    """A frozen value dataclass as a dict of its fields."""

    def __init__(self, cls: type) -> None:
        self.type = cls
        self.name = f"care.{cls.__name__}"
        self.fields = tuple(f.name for f in dataclasses.fields(cls))

    def encode(self, obj: Any) -> dict[str, Any]:
        return {name: getattr(obj, name) for name in self.fields}

    def decode(self, data: dict[str, Any]) -> Any:
        return self.type(**data)


def register_domain_transcodings(transcoder: JSONTranscoder) -> None:
    """Register every transcoding the episode's events need."""
    transcoder.register(DateAsISO())
    for enum_cls in STORED_ENUMS:
        transcoder.register(EnumAsValue(enum_cls))
    for value_cls in STORED_VALUES:
        transcoder.register(DataclassAsDict(value_cls))
