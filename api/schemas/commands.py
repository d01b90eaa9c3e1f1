"""Request bodies of the episode commands, with the field names of DESIGN.md §4."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import (
    MAX_INT64,
    Identifier,
    Instant,
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
    AgeBand,
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


def _own_example(schema: dict[str, Any], cls: type) -> None:
    # Entry schemas of the episode inherit a command's fields, not its example.
    example = cls.__dict__.get("example")
    if example is not None:
        schema["examples"] = [example]


class CommandCreate(Strict):
    """A command's request body; every command says when it happened in the clinic
    (ISO-8601 with an offset). `to_command` turns it into the domain's command."""

    command: ClassVar[type[cmd.Command]]
    path: ClassVar[str]
    """The route under /episodes/{episode_id}/ (episode commands only)."""
    doc: ClassVar[str]
    example: ClassVar[dict[str, Any]]
    """A valid body, shown in the OpenAPI document (its own class only)."""

    model_config = ConfigDict(json_schema_extra=_own_example)

    occurred_at: Instant = Field(
        description="when it happened in the clinic (ISO-8601 with a UTC offset); "
        "not in the future, not before the episode opened"
    )

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
    example: ClassVar[dict[str, Any]] = {
        "occurred_at": "2026-03-02T09:00:00+00:00",
        "patient_id": "pt-0001",
        "referrer": {"id": "dr-pc-1", "name": "Dr Primary", "role": "primary_care"},
        "receiving_service": "pain_medicine",
        "reason": "axial low back pain, 10 weeks",
        "presentation": "axial",
        "symptom_onset": "2025-12-20",
        "insurance_mandated": False,
        "red_flags": [],
    }

    patient_id: Identifier = Field(description="pseudonymous patient id")
    referrer: ReferrerIn
    receiving_service: Service
    reason: Text
    presentation: Presentation | None = None
    symptom_onset: date | None = None
    insurance_mandated: bool = False
    red_flags: Annotated[list[RedFlag], Field(max_length=5)] = []
    age_band: AgeBand | None = Field(
        default=None,
        description="the patient's age in years at this referral, as a band "
        "(no birth date: patients stay pseudonymous); the quality measures' age "
        "criteria need it",
    )


class ReceiveReferralCreate(CommandCreate):
    command: ClassVar[type[cmd.Command]] = cmd.ReceiveReferral
    path: ClassVar[str] = "referrals"
    doc: ClassVar[str] = (
        "Record that a further service received the patient (ReferralReceived)."
    )
    example: ClassVar[dict[str, Any]] = {
        "occurred_at": "2026-03-03T09:00:00+00:00",
        "referrer": {"id": "dr-ss-1", "name": "Dr Surgeon", "role": "spine_surgery"},
        "receiving_service": "pain_medicine",
        "reason": "insurer requires epidural injections before surgery",
    }

    referrer: ReferrerIn
    receiving_service: Service
    reason: Text


class ScreenRedFlagsCreate(CommandCreate):
    command: ClassVar[type[cmd.Command]] = cmd.ScreenRedFlags
    path: ClassVar[str] = "red-flag-screenings"
    doc: ClassVar[str] = "Record a red-flag screen (RedFlagsScreened)."
    example: ClassVar[dict[str, Any]] = {
        "occurred_at": "2026-03-03T10:00:00+00:00",
        "flags": [],
        "disposition": "none",
    }

    flags: Annotated[list[RedFlag], Field(max_length=5)] = []
    disposition: Disposition


class RecordDiagnosticCreate(CommandCreate):
    command: ClassVar[type[cmd.Command]] = cmd.RecordDiagnostic
    path: ClassVar[str] = "diagnostics"
    doc: ClassVar[str] = "Record a completed diagnostic (DiagnosticCompleted)."
    example: ClassVar[dict[str, Any]] = {
        "occurred_at": "2026-03-04T09:00:00+00:00",
        "kind": "mri",
        "region": "lumbar",
        "levels": ["L4-L5"],
        "findings": "facet arthropathy L4-L5, no stenosis",
        "pain_generator": "facet",
    }

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
    example: ClassVar[dict[str, Any]] = {
        "occurred_at": "2026-03-05T09:00:00+00:00",
        "modality": "physical_therapy",
        "started_on": "2026-03-05",
        "ended_on": "2026-04-14",
        "sessions": 12,
        "response": "improved",
    }

    modality: ConservativeModality
    started_on: date
    ended_on: date | None = None
    sessions: Annotated[int, Field(ge=0, le=365)] | None = None
    response: CareResponse | None = None


class PlanTreatmentCreate(CommandCreate):
    command: ClassVar[type[cmd.Command]] = cmd.PlanTreatment
    path: ClassVar[str] = "treatment-plans"
    doc: ClassVar[str] = "Record a treatment plan (TreatmentPlanned)."
    example: ClassVar[dict[str, Any]] = {
        "occurred_at": "2026-03-06T09:00:00+00:00",
        "items": [{"kind": "biologic", "detail": "PRP to L4-L5 facets"}],
        "goals": "ODI below 20 and return to work",
        "regenerative_option": "recommended",
    }

    items: Annotated[list[PlanItemIn], Field(min_length=1, max_length=20)]
    goals: Text
    regenerative_option: RegenerativeOption


class PerformInterventionCreate(CommandCreate):
    command: ClassVar[type[cmd.Command]] = cmd.PerformIntervention
    path: ClassVar[str] = "interventions"
    doc: ClassVar[str] = "Record a therapeutic procedure (InterventionPerformed)."
    example: ClassVar[dict[str, Any]] = {
        "occurred_at": "2026-03-07T09:00:00+00:00",
        "procedure": "epidural_steroid_injection",
        "region": "lumbar",
        "levels": ["L5-S1"],
        "side": "left",
        "image_guided": True,
    }

    procedure: Procedure
    region: Region
    levels: Levels = []
    side: Side | None = None
    image_guided: bool = True


class AdministerBiologicCreate(CommandCreate):
    command: ClassVar[type[cmd.Command]] = cmd.AdministerBiologic
    path: ClassVar[str] = "biologics"
    doc: ClassVar[str] = "Record a regenerative biologic (BiologicAdministered)."
    example: ClassVar[dict[str, Any]] = {
        "occurred_at": "2026-03-08T09:00:00+00:00",
        "product": "prp",
        "target": "L4-L5 facet joints",
        "levels": ["L4-L5"],
        "volume_ml": 4.5,
        "lot_number": "PRP-2026-0412",
        "image_guided": True,
    }

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
    example: ClassVar[dict[str, Any]] = {
        "occurred_at": "2026-03-09T09:00:00+00:00",
        "instrument": "odi",
        "score": 46,
        "follows_version": None,
    }

    instrument: Instrument
    score: Number
    follows_version: Annotated[int, Field(ge=1, le=MAX_INT64)] | None = None


class ReferToSurgeryCreate(CommandCreate):
    command: ClassVar[type[cmd.Command]] = cmd.ReferToSurgery
    path: ClassVar[str] = "surgery-referrals"
    doc: ClassVar[str] = "Refer the patient to a spine surgeon (SurgeryReferred)."
    example: ClassVar[dict[str, Any]] = {
        "occurred_at": "2026-03-10T09:00:00+00:00",
        "surgeon": {"id": "dr-ss-1", "name": "Dr Surgeon"},
        "urgency": "elective",
        "intent": "consult",
        "indication": "failed_conservative_care",
        "justification": "persistent radicular pain after 10 weeks of care",
    }

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
    example: ClassVar[dict[str, Any]] = {
        "occurred_at": "2026-03-11T09:00:00+00:00",
        "to_physician_id": "dr-pc-1",
        "summary": "facet pain confirmed; PRP planned",
    }

    to_physician_id: Identifier
    summary: Text


class AssignClinicianCreate(CommandCreate):
    command: ClassVar[type[cmd.Command]] = cmd.AssignClinician
    path: ClassVar[str] = "assignments"
    doc: ClassVar[str] = "Give the episode's work to a clinician (ClinicianAssigned)."
    example: ClassVar[dict[str, Any]] = {
        "occurred_at": "2026-03-12T09:00:00+00:00",
        "clinician_id": "clin-ana",
        "clinician_name": "Ana Clinician",
    }

    clinician_id: Identifier
    clinician_name: Name


class CloseEpisodeCreate(CommandCreate):
    command: ClassVar[type[cmd.Command]] = cmd.CloseEpisode
    path: ClassVar[str] = "closure"
    doc: ClassVar[str] = "Close the episode (EpisodeClosed)."
    example: ClassVar[dict[str, Any]] = {
        "occurred_at": "2026-03-13T09:00:00+00:00",
        "reason": "resolved",
    }

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


class AmendEventCreate(CommandCreate):
    command: ClassVar[type[cmd.Command]] = cmd.AmendEvent
    path: ClassVar[str] = "amendments"
    doc: ClassVar[str] = (
        "Amend an earlier event (EventAmended): name its version, the fields to "
        "correct and why; the original stays as it was recorded."
    )
    example: ClassVar[dict[str, Any]] = {
        "occurred_at": "2026-03-10T09:00:00+00:00",
        "amends_version": 3,
        "fields": {"pain_generator": "facet"},
        "reason": "the report named the L4-L5 facet joint; entered as none",
    }

    amends_version: int = Field(
        ge=1,
        le=MAX_INT64,
        description="the version of the event to correct (an amendment's version "
        "amends the event that amendment corrected)",
    )
    fields: dict[str, Any] = Field(
        min_length=1,
        max_length=20,
        description="the corrected fields with their new values, checked exactly "
        "as the amended event's own command checks them; `occurred_at` here "
        "corrects the event's clinical time",
    )
    reason: Text = Field(description="why the record is corrected")


class CommandAccepted(BaseModel):
    """What every command answers: the episode, its new version, the event's position."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "episode_id": "0b5e6f1e-3c1a-4d7e-9a55-1f0c2b7d9e41",
                    "version": 2,
                    "position": 42,
                }
            ]
        }
    )

    episode_id: UUID
    version: int = Field(description="the episode's version after the command")
    position: int = Field(
        description="the event's place in the global order (increasing, not "
        "dense: on PostgreSQL it follows transaction ids): pass it as "
        "`min_position` to read your own write from a read model"
    )
