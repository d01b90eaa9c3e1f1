"""The episode as the FHIR mapping reads it: its events with corrections applied.

An amendment (`EventAmended`) names an earlier event and the fields it corrects;
the reading (domain.reading) shows the corrected values, as every read of the
service does, and which amendments shaped each event, so the resources of that
event carry the amendment's time and its Provenance says what it amends.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.reading import EpisodeReading
from domain.values import Actor

AMENDMENT = "EventAmended"


@dataclass(frozen=True)
class Fact:
    """One recorded event as the mapping sees it (corrections applied)."""

    version: int
    type: str
    occurred_at: datetime
    recorded_at: datetime
    actor: Actor
    data: Mapping[str, Any]
    amended_by: tuple[int, ...] = ()
    """Versions of the amendments that corrected this event, oldest first."""


@dataclass(frozen=True)
class Amendment:
    """What an amendment says: which event, the corrected fields, and why."""

    amends: int
    corrections: Mapping[str, Any]
    reason: str


@dataclass
class EpisodeView:
    """An episode's facts in version order, and its amendments."""

    episode_id: UUID
    patient_id: str
    facts: list[Fact]
    amendments: dict[int, tuple[Fact, Amendment]] = field(default_factory=dict)

    def of_type(self, name: str) -> list[Fact]:
        """The facts of one event type, in version order."""
        return [f for f in self.facts if f.type == name]

    @property
    def closure(self) -> Fact | None:
        """The closing event, if the episode is closed."""
        return next((f for f in self.facts if f.type == "EpisodeClosed"), None)

    def recorded_at(self, version: int) -> datetime:
        """When the store recorded the event of `version` (an amendment included)."""
        if version in self.amendments:
            return self.amendments[version][0].recorded_at
        return next(f.recorded_at for f in self.facts if f.version == version)

    def fact(self, version: int) -> Fact | None:
        """The (corrected) event of `version`, if it is not an amendment."""
        return next((f for f in self.facts if f.version == version), None)


def amendment_of(data: Mapping[str, Any]) -> Amendment:
    """What an EventAmended's data says (domain.events.EventAmended)."""
    return Amendment(
        amends=int(data["amends_version"]),
        corrections=dict(data.get("fields") or {}),
        reason=str(data.get("reason") or ""),
    )


def view_of(reading: EpisodeReading) -> EpisodeView:
    """The episode's facts (the reading has applied every amendment to them) and
    its amendments by version."""
    facts: list[Fact] = []
    amendments: dict[int, tuple[Fact, Amendment]] = {}
    for entry in reading.entries:
        fact = Fact(
            entry.version,
            entry.type,
            entry.occurred_at,
            entry.recorded_at,
            entry.actor,
            dict(entry.data),
            entry.amended_by,
        )
        if entry.type == AMENDMENT:
            amendments[entry.version] = (fact, amendment_of(entry.data))
        else:
            facts.append(fact)
    return EpisodeView(reading.episode_id, reading.patient_id, facts, amendments)
