"""The episode as a reader sees it: a pure fold of its events.

`GET /episodes/{id}` now, at a version and as of an instant all fold the events
that were stored by then; nothing else builds this picture.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from domain import events as ev
from domain.errors import PatientDataErased
from domain.values import (
    Actor,
    AgeBand,
    ClosureReason,
    EpisodeStatus,
    PainGenerator,
    RedFlag,
    Referrer,
    Service,
)

# The section of the reading that lists each event type's entries.
SECTIONS: dict[type[ev.EpisodeEvent], str] = {
    ev.ReferralReceived: "referrals",
    ev.RedFlagsScreened: "red_flag_screenings",
    ev.DiagnosticCompleted: "diagnostics",
    ev.ConservativeCareRecorded: "conservative_care",
    ev.TreatmentPlanned: "treatment_plans",
    ev.InterventionPerformed: "interventions",
    ev.BiologicAdministered: "biologics",
    ev.OutcomeRecorded: "outcomes",
    ev.SurgeryReferred: "surgery_referrals",
    ev.ConsultNoteSent: "consult_notes",
    ev.ClinicianAssigned: "assignments",
    ev.EpisodeClosed: "closures",
    ev.EventAmended: "amendments",
}


@dataclass(frozen=True)
class Entry:
    """One recorded event as a reader sees it: when, by whom, and its data."""

    version: int
    type: str
    occurred_at: datetime
    recorded_at: datetime
    actor: Actor
    data: dict[str, Any]
    original: Entry | None = None
    """The event as first recorded, when amendments have corrected it."""
    amended_by: tuple[int, ...] = ()
    """The versions of the amendments that corrected it, oldest first."""


@dataclass(frozen=True)
class Assignee:
    clinician_id: str
    clinician_name: str


@dataclass
class EpisodeReading:
    """A care episode as it stood after its `version`-th event."""

    episode_id: UUID
    version: int
    patient_id: str
    referrer: Referrer
    opened_at: datetime
    last_occurred_at: datetime
    age_band: AgeBand | None = None
    """The patient's age band at the opening referral (None: not recorded)."""
    status: EpisodeStatus = EpisodeStatus.OPEN
    closure_reason: ClosureReason | None = None
    pathway: list[Service] = field(default_factory=list)
    red_flags: list[RedFlag] = field(default_factory=list)
    screened: bool = False
    pain_generators: list[PainGenerator] = field(default_factory=list)
    """Every generator a diagnostic named (read models judge which are identified)."""
    assignee: Assignee | None = None
    entries: list[Entry] = field(default_factory=list)

    def referrer_ids(self) -> set[str]:
        """Every physician or service that referred the patient into the episode."""
        return {
            entry.data["referrer"].id
            for entry in self.entries
            if entry.type == "ReferralReceived"
        }

    def section(self, name: str) -> list[Entry]:
        """The entries of one section ("diagnostics", "outcomes" ...), in version order."""
        return [e for e in self.entries if SECTION_OF_TYPE[e.type] == name]


SECTION_OF_TYPE = {cls.__name__: name for cls, name in SECTIONS.items()}


def read_episode(events: Iterable[ev.EpisodeEvent]) -> EpisodeReading:
    """The episode after these events (its own, in version order, the first opening it)."""
    reading: EpisodeReading | None = None
    for event in events:
        if reading is None:
            if not isinstance(event, ev.ReferralReceived):
                raise ValueError("an episode's first event is its opening referral")
            reading = EpisodeReading(
                episode_id=event.originator_id,
                version=0,
                patient_id=event.patient_id,
                referrer=event.referrer,
                opened_at=event.occurred_at,
                last_occurred_at=event.occurred_at,
                age_band=event.age_band,
            )
        _apply(reading, event)
    if reading is None:
        raise ValueError("an episode has at least its opening referral")
    return reading


def _apply(reading: EpisodeReading, event: ev.EpisodeEvent) -> None:
    if isinstance(event, ev.EpisodeErased):
        raise PatientDataErased(reading.episode_id)
    reading.version = event.originator_version
    entry = Entry(
        version=event.originator_version,
        type=type(event).__name__,
        occurred_at=event.occurred_at,
        recorded_at=event.timestamp,
        actor=event.actor,
        data=event.data,
    )
    reading.entries.append(entry)
    if isinstance(event, ev.EventAmended):
        _amend(reading, event)
        _derive(reading)
    else:
        _derive_entry(reading, entry)


def _amend(reading: EpisodeReading, event: ev.EventAmended) -> None:
    """Show the amended event's corrected value, its original kept beside it."""
    for i, entry in enumerate(reading.entries):
        if entry.version == event.amends_version:
            reading.entries[i] = replace(
                entry,
                occurred_at=event.corrected_occurred_at,
                data=dict(event.corrected),
                original=entry.original or entry,
                amended_by=(*entry.amended_by, event.originator_version),
            )
            return


def _derive(reading: EpisodeReading) -> None:
    """Everything the reading derives from its entries, derived again (after a
    correction, which may change any of it)."""
    opening = reading.entries[0]
    reading.patient_id = opening.data["patient_id"]
    reading.referrer = opening.data["referrer"]
    reading.opened_at = opening.occurred_at
    reading.age_band = opening.data.get("age_band")
    reading.last_occurred_at = opening.occurred_at
    reading.status, reading.closure_reason = EpisodeStatus.OPEN, None
    reading.pathway, reading.red_flags, reading.pain_generators = [], [], []
    reading.screened, reading.assignee = False, None
    for entry in reading.entries:
        if entry.type != "EventAmended":
            _derive_entry(reading, entry)


def _derive_entry(reading: EpisodeReading, entry: Entry) -> None:
    data = entry.data
    reading.last_occurred_at = max(reading.last_occurred_at, entry.occurred_at)
    match entry.type:
        case "ReferralReceived":
            reading.pathway.append(data["receiving_service"])
            _add(reading.red_flags, data["red_flags"])
        case "RedFlagsScreened":
            reading.screened = True
            _add(reading.red_flags, data["flags"])
        case "DiagnosticCompleted" if data["pain_generator"]:
            _add(reading.pain_generators, [data["pain_generator"]])
        case "ClinicianAssigned":
            reading.assignee = Assignee(data["clinician_id"], data["clinician_name"])
        case "EpisodeClosed":
            reading.status = EpisodeStatus.CLOSED
            reading.closure_reason = data["reason"]


def _add(items: list[Any], new: Iterable[Any]) -> None:
    for item in new:
        if item not in items:
            items.append(item)
