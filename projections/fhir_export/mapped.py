"""A mapped resource and the events that shaped it (for its lastUpdated and Provenance)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from domain.plain import plain
from projections.fhir_export.view import EpisodeView, Fact


@dataclass(frozen=True)
class Mapped:
    """One FHIR resource (a JSON-ready dict) and the event versions that shaped it."""

    resource: dict[str, Any]
    versions: tuple[int, ...]

    @property
    def type(self) -> str:
        return str(self.resource["resourceType"])

    @property
    def id(self) -> str:
        return str(self.resource["id"])


Mapper = Callable[[EpisodeView, Fact], Sequence[Mapped]]


def shaped_by(fact: Fact, *more: int) -> tuple[int, ...]:
    """The versions behind a resource of `fact`: it, its amendments, and `more`."""
    return tuple(sorted({fact.version, *fact.amended_by, *more}))


def instant(moment: datetime) -> str:
    """A FHIR instant / dateTime (an aware datetime, ISO 8601)."""
    return moment.isoformat()


def text(value: Any) -> str | None:
    """A text field as a FHIR string, or None when blank (FHIR strings are never empty)."""
    if value is None:
        return None
    found = str(value).strip()
    return found or None


def code_of(value: Any) -> str:
    """An enum member (or a corrected field's plain value) as its code."""
    return str(plain(value))


def day(value: Any) -> str:
    """A date (or a corrected field's ISO text) as a FHIR date."""
    return value.isoformat() if isinstance(value, date) else str(value)


def number(value: Any) -> Any:
    """A score or volume as a JSON number."""
    return plain(value)


def notes(*texts: str | None) -> list[dict[str, str]]:
    """Annotations for the non-blank texts."""
    return [{"text": t} for t in texts if t]


def compact(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource without empty elements (FHIR forbids empty lists, strings, objects)."""
    return {k: v for k, v in resource.items() if v not in (None, [], {}, "")}
