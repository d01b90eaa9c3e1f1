"""Request bodies of the episode commands, with the field names of DESIGN.md §4."""

from __future__ import annotations

from datetime import date
from typing import Annotated, ClassVar, Literal
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
from domain import commands as cmd
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


class CommandCreate(Strict):
    """A command's request body; every command says when it happened in the clinic
    (ISO-8601 with an offset). `to_command` turns it into the domain's command."""

    command: ClassVar[type[cmd.Command]]
    path: ClassVar[str]
    """The route under /episodes/{episode_id}/ (episode commands only)."""
    doc: ClassVar[str]

    occurred_at: AwareDatetime

    def to_command(self, episode_id: UUID | None = None) -> cmd.Command:
        """The domain command this body asks for (on `episode_id`, if it has one)."""
        fields = self.model_dump()
        if episode_id is not None:
            fields["episode_id"] = episode_id
        return self.command(**fields)


class OpenEpisodeCreate(CommandCreate):
    command: ClassVar[type[cmd.Command]] = cmd.OpenEpisode
    path: ClassVar[str] = ""
    doc: ClassVar[str] = "Open an episode with its first referral (ReferralReceived)."

    patient_id: Identifier = Field(description="pseudonymous patient id")
    referrer: ReferrerIn
    receiving_service: Service
    reason: Text
    presentation: Presentation | None = None
    symptom_onset: date | None = None
    insurance_mandated: bool = False
    red_flags: Annotated[list[RedFlag], Field(max_length=5)] = []


class ReceiveReferralCreate(CommandCreate):
    command: ClassVar[type[cmd.Command]] = cmd.ReceiveReferral
    path: ClassVar[str] = "referrals"
    doc: ClassVar[str] = (
        "Record that a further service received the patient (ReferralReceived)."
    )

    referrer: ReferrerIn
    receiving_service: Service
    reason: Text


class ScreenRedFlagsCreate(CommandCreate):
    command: ClassVar[type[cmd.Command]] = cmd.ScreenRedFlags
    path: ClassVar[str] = "red-flag-screenings"
    doc: ClassVar[str] = "Record a red-flag screen (RedFlagsScreened)."

    flags: Annotated[list[RedFlag], Field(max_length=5)] = []
    disposition: Disposition


class RecordDiagnosticCreate(CommandCreate):
    command: ClassVar[type[cmd.Command]] = cmd.RecordDiagnostic
    path: ClassVar[str] = "diagnostics"
    doc: ClassVar[str] = "Record a completed diagnostic (DiagnosticCompleted)."

    kind: DiagnosticKind
    region: Region
    levels: Levels = []
    relief_percent: Annotated[int, Field(ge=0, le=100)] | None = None
    findings: OptionalText = ""
    pain_generator: PainGenerator | Literal["none"] | None = None


class RecordConservativeCareCreate(CommandCreate):
    command: ClassVar[type[cmd.Command]] = cmd.RecordConservativeCare
    path: ClassVar[str] = "conservative-care"
    doc: ClassVar[str] = (
        "Record a course of conservative care (ConservativeCareRecorded)."
    )

    modality: ConservativeModality
    started_on: date
    ended_on: date | None = None
    sessions: Annotated[int, Field(ge=0, le=365)] | None = None
    response: CareResponse | None = None


class PlanTreatmentCreate(CommandCreate):
    command: ClassVar[type[cmd.Command]] = cmd.PlanTreatment
    path: ClassVar[str] = "treatment-plans"
    doc: ClassVar[str] = "Record a treatment plan (TreatmentPlanned)."

    items: Annotated[list[PlanItemIn], Field(min_length=1, max_length=20)]
    goals: Text
    regenerative_option: RegenerativeOption


class PerformInterventionCreate(CommandCreate):
    command: ClassVar[type[cmd.Command]] = cmd.PerformIntervention
    path: ClassVar[str] = "interventions"
    doc: ClassVar[str] = "Record a therapeutic procedure (InterventionPerformed)."

    procedure: Procedure
    region: Region
    levels: Levels = []
    side: Side | None = None
    image_guided: bool = True


class AdministerBiologicCreate(CommandCreate):
    command: ClassVar[type[cmd.Command]] = cmd.AdministerBiologic
    path: ClassVar[str] = "biologics"
    doc: ClassVar[str] = "Record a regenerative biologic (BiologicAdministered)."

    product: BiologicProduct
    target: Name
    levels: Levels = []
    volume_ml: Annotated[Number, Field(gt=0, le=100)]
    lot_number: Identifier
    image_guided: bool = True


class RecordOutcomeCreate(CommandCreate):
    command: ClassVar[type[cmd.Command]] = cmd.RecordOutcome
    path: ClassVar[str] = "outcomes"
    doc: ClassVar[str] = "Record a patient-reported outcome (OutcomeRecorded)."

    instrument: Instrument
    score: Number
    follows_version: Annotated[int, Field(ge=1)] | None = None


class ReferToSurgeryCreate(CommandCreate):
    command: ClassVar[type[cmd.Command]] = cmd.ReferToSurgery
    path: ClassVar[str] = "surgery-referrals"
    doc: ClassVar[str] = "Refer the patient to a spine surgeon (SurgeryReferred)."

    surgeon: SurgeonIn
    urgency: Urgency
    intent: SurgicalIntent
    indication: Indication
    justification: Text


class SendConsultNoteCreate(CommandCreate):
    command: ClassVar[type[cmd.Command]] = cmd.SendConsultNote
    path: ClassVar[str] = "consult-notes"
    doc: ClassVar[str] = (
        "Record a consult note sent to the referring physician (ConsultNoteSent)."
    )

    to_physician_id: Identifier
    summary: Text


class AssignClinicianCreate(CommandCreate):
    command: ClassVar[type[cmd.Command]] = cmd.AssignClinician
    path: ClassVar[str] = "assignments"
    doc: ClassVar[str] = "Give the episode's work to a clinician (ClinicianAssigned)."

    clinician_id: Identifier
    clinician_name: Name


class CloseEpisodeCreate(CommandCreate):
    command: ClassVar[type[cmd.Command]] = cmd.CloseEpisode
    path: ClassVar[str] = "closure"
    doc: ClassVar[str] = "Close the episode (EpisodeClosed)."

    reason: ClosureReason


# Every command on an open episode: one route each under /episodes/{episode_id}/.
EPISODE_COMMANDS: tuple[type[CommandCreate], ...] = (
    ReceiveReferralCreate,
    ScreenRedFlagsCreate,
    RecordDiagnosticCreate,
    RecordConservativeCareCreate,
    PlanTreatmentCreate,
    PerformInterventionCreate,
    AdministerBiologicCreate,
    RecordOutcomeCreate,
    ReferToSurgeryCreate,
    SendConsultNoteCreate,
    AssignClinicianCreate,
    CloseEpisodeCreate,
)


class CommandAccepted(BaseModel):
    """What every command answers: the episode, its new version, the event's position."""

    episode_id: UUID
    version: int
    position: int
