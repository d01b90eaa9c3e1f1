"""Request bodies of the episode commands, with the field names of DESIGN.md §4."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, Field

from api.schemas.common import (
    Identifier,
    Levels,
    Name,
    Number,
    OptionalText,
    PlanItemIn,
    ReferrerIn,
    Strict,
    SurgeonIn,
    Text,
)
from domain.values import (
    BiologicProduct,
    CareResponse,
    ClosureReason,
    ConservativeModality,
    DiagnosticKind,
    Disposition,
    Indication,
    Instrument,
    PainGenerator,
    Presentation,
    Procedure,
    RedFlag,
    RegenerativeOption,
    Region,
    Service,
    Side,
    SurgicalIntent,
    Urgency,
)


class Command(Strict):
    """Every command says when it happened in the clinic (ISO-8601 with an offset)."""

    occurred_at: AwareDatetime


class OpenEpisodeRequest(Command):
    patient_id: Identifier = Field(description="pseudonymous patient id")
    referrer: ReferrerIn
    receiving_service: Service
    reason: Text
    presentation: Presentation | None = None
    symptom_onset: date | None = None
    insurance_mandated: bool = False
    red_flags: Annotated[list[RedFlag], Field(max_length=5)] = []


class ReceiveReferralRequest(Command):
    referrer: ReferrerIn
    receiving_service: Service
    reason: Text


class ScreenRedFlagsRequest(Command):
    flags: Annotated[list[RedFlag], Field(max_length=5)] = []
    disposition: Disposition


class RecordDiagnosticRequest(Command):
    kind: DiagnosticKind
    region: Region
    levels: Levels = []
    relief_percent: Annotated[int, Field(ge=0, le=100)] | None = None
    findings: OptionalText = ""
    pain_generator: PainGenerator | Literal["none"] | None = None


class RecordConservativeCareRequest(Command):
    modality: ConservativeModality
    started_on: date
    ended_on: date | None = None
    sessions: Annotated[int, Field(ge=0, le=365)] | None = None
    response: CareResponse | None = None


class PlanTreatmentRequest(Command):
    items: Annotated[list[PlanItemIn], Field(min_length=1, max_length=20)]
    goals: Text
    regenerative_option: RegenerativeOption


class PerformInterventionRequest(Command):
    procedure: Procedure
    region: Region
    levels: Levels = []
    side: Side | None = None
    image_guided: bool = True


class AdministerBiologicRequest(Command):
    product: BiologicProduct
    target: Name
    levels: Levels = []
    volume_ml: Annotated[Number, Field(gt=0, le=100)]
    lot_number: Identifier
    image_guided: bool = True


class RecordOutcomeRequest(Command):
    instrument: Instrument
    score: Number
    follows_version: Annotated[int, Field(ge=1)] | None = None


class ReferToSurgeryRequest(Command):
    surgeon: SurgeonIn
    urgency: Urgency
    intent: SurgicalIntent
    indication: Indication
    justification: Text


class SendConsultNoteRequest(Command):
    to_physician_id: Identifier
    summary: Text


class AssignClinicianRequest(Command):
    clinician_id: Identifier
    clinician_name: Name


class CloseEpisodeRequest(Command):
    reason: ClosureReason


class CommandAccepted(BaseModel):
    """What every command answers: the episode, its new version, the event's position."""

    episode_id: UUID
    version: int
    position: int
