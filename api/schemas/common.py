"""Schemas shared by requests and responses: people, actors, ids and limits."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    PlainSerializer,
    StringConstraints,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from domain.errors import InvalidCommand
from domain.guards import check_characters
from domain.plain import json_number
from domain.values import PlanItemKind, PrincipalRole, ReferralSource


def printable(value: str) -> str:
    """Refuse control characters and lone surrogates (domain/guards.py says why)."""
    try:
        return check_characters(value, "text")
    except InvalidCommand as error:
        raise ValueError(error.message.removeprefix("text ")) from None


# Limits mirror domain/guards.py so the API refuses with 422 what the domain would
# refuse anyway, naming the field.
Printable = AfterValidator(printable)
Identifier = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=128, pattern=r"^\S+$"
    ),
    Printable,
]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    Printable,
]
Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=4000),
    Printable,
]
OptionalText = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=4000), Printable
]
Level = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=16)
]
Levels = Annotated[list[Level], Field(max_length=12)]


class _JsonNumber:
    """A decimal's schema is a JSON number with its bounds (pydantic alone says
    "number or string": clients then generate a union for a score)."""

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        generated = handler.resolve_ref_schema(handler(schema))
        for option in generated.get("anyOf", []):
            if option.get("type") == "number":
                return dict(option)
        return generated


# Decimals travel as JSON numbers both ways, not as the strings pydantic emits.
Number = Annotated[
    Decimal,
    PlainSerializer(json_number, return_type=float, when_used="json"),
    _JsonNumber,
]

MAX_INT64 = 2**63 - 1
"""The largest whole number every backend stores (SQLite INTEGER, PostgreSQL bigint)."""


def in_utc_range(moment: datetime) -> datetime:
    """Refuse an instant that exists only with its offset: 0001-01-01T00:00+14:00 is
    before the first instant a datetime can hold in UTC, and would fail every
    comparison and query made with it."""
    try:
        moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range once converted to UTC") from None
    return moment


Instant = Annotated[AwareDatetime, AfterValidator(in_utc_range)]
"""A date and time with a UTC offset, inside the range UTC can express."""


class Strict(BaseModel):
    """A request body: unknown fields are refused, naming them."""

    model_config = ConfigDict(extra="forbid")


class ReferrerIn(Strict):
    id: Identifier
    name: Name
    role: ReferralSource


class SurgeonIn(Strict):
    id: Identifier
    name: Name


class PlanItemIn(Strict):
    kind: PlanItemKind
    detail: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=1000),
        Printable,
    ]


class ActorPublic(BaseModel):
    """Who recorded an event."""

    principal_id: str
    role: PrincipalRole


class ReferrerPublic(BaseModel):
    id: str
    name: str
    role: ReferralSource
