"""Schemas shared by requests and responses: people, actors, ids and limits."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
)

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


# Decimals travel as JSON numbers both ways, not as the strings pydantic emits.
Number = Annotated[
    Decimal, PlainSerializer(json_number, return_type=float, when_used="json")
]


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
