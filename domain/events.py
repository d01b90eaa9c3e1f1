"""The events of a care episode (DESIGN.md §3): who, when, and what happened."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from eventsourcing.domain import Aggregate, CanMutateAggregate

from domain.values import (
    Actor,
    BiologicProduct,
    CareResponse,
    ClosureReason,
    ConservativeModality,
    DiagnosticKind,
    Disposition,
    EpisodeStatus,
    Idempotency,
    Indication,
    Instrument,
    PainGenerator,
    PlanItem,
    Presentation,
    Procedure,
    RedFlag,
    Referrer,
    RegenerativeOption,
    Region,
    Service,
    Side,
    Surgeon,
    SurgicalIntent,
    Urgency,
)

if TYPE_CHECKING:
    from domain.episode import CareEpisode

# Fields every event carries that are not clinical data.
ENVELOPE_FIELDS = frozenset(
    {
        "originator_id",
        "originator_version",
        "originator_topic",
        "timestamp",
        "actor",
        "occurred_at",
        "idempotency",
    }
)


@dataclasses.dataclass(frozen=True)
class EpisodeEntry:
    """One recorded event as the episode keeps it: when, by whom, and its data."""

    version: int
    type: str
    occurred_at: datetime
    recorded_at: datetime
    actor: Actor
    data: dict[str, Any]


class EpisodeEvent(Aggregate.Event):
    """Base of every episode event: the actor, the clinical time and the retry key."""

    actor: Actor
    occurred_at: datetime
    idempotency: Idempotency | None

    @property
    def data(self) -> dict[str, Any]:
        """The event's clinical fields, without the envelope."""
        return {k: v for k, v in vars(self).items() if k not in ENVELOPE_FIELDS}

    def apply(self, episode: CareEpisode) -> None:
        episode.entries.append(
            EpisodeEntry(
                version=self.originator_version,
                type=type(self).__name__,
                occurred_at=self.occurred_at,
                recorded_at=self.timestamp,
                actor=self.actor,
                data=self.data,
            )
        )
        if self.idempotency is not None:
            episode.idempotency_keys[self.idempotency.key] = (
                self.originator_version,
                self.idempotency.fingerprint,
            )
        last = episode.last_occurred_at
        episode.last_occurred_at = (
            self.occurred_at if last is None else max(last, self.occurred_at)
        )


class ReferralReceived(EpisodeEvent, Aggregate.Created):
    """A service received the patient; the first referral opens the episode."""

    patient_id: str
    referrer: Referrer
    receiving_service: Service
    reason: str
    presentation: Presentation | None
    symptom_onset: date | None
    insurance_mandated: bool
    red_flags: list[RedFlag]

    def mutate(self, aggregate: CareEpisode | None) -> CareEpisode | None:
        # The same event type opens the episode and records later referrals.
        if aggregate is None:
            return super().mutate(None)
        return CanMutateAggregate.mutate(self, aggregate)

    def apply(self, episode: CareEpisode) -> None:
        if not episode.entries:
            episode.patient_id = self.patient_id
            episode.referrer = self.referrer
            episode.opened_at = self.occurred_at
        super().apply(episode)
        episode.pathway.append(self.receiving_service)
        episode.add_red_flags(self.red_flags)


class RedFlagsScreened(EpisodeEvent):
    flags: list[RedFlag]
    disposition: Disposition

    def apply(self, episode: CareEpisode) -> None:
        super().apply(episode)
        episode.screened = True
        episode.add_red_flags(self.flags)


class DiagnosticCompleted(EpisodeEvent):
    kind: DiagnosticKind
    region: Region
    levels: list[str]
    relief_percent: int | None
    findings: str
    pain_generator: PainGenerator | None

    def apply(self, episode: CareEpisode) -> None:
        super().apply(episode)
        if self.pain_generator and self.pain_generator not in episode.pain_generators:
            episode.pain_generators.append(self.pain_generator)


class ConservativeCareRecorded(EpisodeEvent):
    modality: ConservativeModality
    started_on: date
    ended_on: date | None
    sessions: int | None
    response: CareResponse | None


class TreatmentPlanned(EpisodeEvent):
    items: list[PlanItem]
    goals: str
    regenerative_option: RegenerativeOption


class InterventionPerformed(EpisodeEvent):
    procedure: Procedure
    region: Region
    levels: list[str]
    side: Side | None
    image_guided: bool


class BiologicAdministered(EpisodeEvent):
    product: BiologicProduct
    target: str
    levels: list[str]
    volume_ml: Decimal
    lot_number: str
    image_guided: bool


class OutcomeRecorded(EpisodeEvent):
    instrument: Instrument
    score: Decimal
    follows_version: int | None


class SurgeryReferred(EpisodeEvent):
    surgeon: Surgeon
    urgency: Urgency
    intent: SurgicalIntent
    indication: Indication
    justification: str


class ConsultNoteSent(EpisodeEvent):
    to_physician_id: str
    summary: str


class ClinicianAssigned(EpisodeEvent):
    clinician_id: str
    clinician_name: str

    def apply(self, episode: CareEpisode) -> None:
        super().apply(episode)
        episode.assignee_id = self.clinician_id
        episode.assignee_name = self.clinician_name


class EpisodeClosed(EpisodeEvent):
    reason: ClosureReason

    def apply(self, episode: CareEpisode) -> None:
        super().apply(episode)
        episode.status = EpisodeStatus.CLOSED
        episode.closure_reason = self.reason


EVENT_TYPES: tuple[type[EpisodeEvent], ...] = (
    ReferralReceived,
    RedFlagsScreened,
    DiagnosticCompleted,
    ConservativeCareRecorded,
    TreatmentPlanned,
    InterventionPerformed,
    BiologicAdministered,
    OutcomeRecorded,
    SurgeryReferred,
    ConsultNoteSent,
    ClinicianAssigned,
    EpisodeClosed,
)
