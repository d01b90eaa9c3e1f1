"""The events of a care episode (DESIGN.md §3): who, when, and what happened."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate, CanMutateAggregate, TAggregate

from domain.values import (
    Actor,
    AgeBand,
    BiologicProduct,
    CareResponse,
    ClosureReason,
    ConservativeModality,
    DiagnosticKind,
    Disposition,
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
        # Only what the episode's rules decide on; readers fold the events
        # themselves (domain.reading).
        if self.idempotency is not None:
            episode.idempotency_keys[self.idempotency.key] = (
                self.originator_version,
                self.idempotency.fingerprint,
            )


class ReferralReceived(EpisodeEvent, Aggregate.Created):
    """A service received the patient; the first referral opens the episode.

    Class version 2 adds `age_band` (intake only: None on later referrals).
    """

    class_version = 2

    patient_id: str
    referrer: Referrer
    receiving_service: Service
    reason: str
    presentation: Presentation | None
    symptom_onset: date | None
    insurance_mandated: bool
    red_flags: list[RedFlag]
    age_band: AgeBand | None

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        # Referrals stored before the field existed said nothing about age.
        state["age_band"] = None

    def mutate(self, aggregate: TAggregate | None) -> TAggregate | None:
        # The same event type opens the episode and records later referrals.
        if aggregate is None:
            return super().mutate(None)
        return CanMutateAggregate.mutate(self, aggregate)

    def apply(self, episode: CareEpisode) -> None:
        super().apply(episode)
        if self.originator_version == 1:
            episode.patient_id = self.patient_id
            episode.opened_at = self.occurred_at
        if self.referrer.id not in episode.referrer_ids:
            episode.referrer_ids.append(self.referrer.id)


class _Measurable(EpisodeEvent):
    """A treatment an outcome may follow (its `follows_version`)."""

    def apply(self, episode: CareEpisode) -> None:
        super().apply(episode)
        episode.measurable[str(self.originator_version)] = self.occurred_at


class RedFlagsScreened(EpisodeEvent):
    flags: list[RedFlag]
    disposition: Disposition


class DiagnosticCompleted(EpisodeEvent):
    kind: DiagnosticKind
    region: Region
    levels: list[str]
    relief_percent: int | None
    findings: str
    pain_generator: PainGenerator | None


class ConservativeCareRecorded(_Measurable):
    modality: ConservativeModality
    started_on: date
    ended_on: date | None
    sessions: int | None
    response: CareResponse | None


class TreatmentPlanned(EpisodeEvent):
    items: list[PlanItem]
    goals: str
    regenerative_option: RegenerativeOption


class InterventionPerformed(_Measurable):
    procedure: Procedure
    region: Region
    levels: list[str]
    side: Side | None
    image_guided: bool


class BiologicAdministered(_Measurable):
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
        episode.assignment_version = self.originator_version


class EpisodeClosed(EpisodeEvent):
    reason: ClosureReason

    def apply(self, episode: CareEpisode) -> None:
        super().apply(episode)
        episode.closed = True


class EventAmended(EpisodeEvent):
    """A correction of an earlier event (HIPAA 164.526, GDPR Art. 16); the original
    stays as it was recorded.

    `fields` are the corrected fields (normalised as the original command's are);
    `corrected` is the amended event's whole clinical data after this correction,
    `corrected_occurred_at` its clinical time, so a reader needs no other event
    to apply it.
    """

    amends_version: int
    amends_type: str
    fields: dict[str, Any]
    reason: str
    corrected: dict[str, Any]
    corrected_occurred_at: datetime

    def apply(self, episode: CareEpisode) -> None:
        super().apply(episode)
        episode.amended(self)


class EpisodeErased(EpisodeEvent):
    """The patient's data was erased (crypto-shredded): the events before this one
    stay, unreadable. Stored in plain: it holds no patient data."""

    erasure_id: UUID

    def apply(self, episode: CareEpisode) -> None:
        super().apply(episode)
        episode.erased = True


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
    EventAmended,
    EpisodeErased,
)
