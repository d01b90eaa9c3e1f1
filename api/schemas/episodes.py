"""Response bodies for episode state and history."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from api.schemas.commands import (
    AdministerBiologicCreate,
    AssignClinicianCreate,
    CloseEpisodeCreate,
    OpenEpisodeCreate,
    PerformInterventionCreate,
    PlanTreatmentCreate,
    RecordConservativeCareCreate,
    RecordDiagnosticCreate,
    RecordOutcomeCreate,
    ReferToSurgeryCreate,
    ScreenRedFlagsCreate,
    SendConsultNoteCreate,
)
from api.schemas.common import ActorPublic, ReferrerPublic
from domain.plain import plain
from domain.values import ClosureReason, EpisodeStatus, PainGenerator, RedFlag, Service

json_value = plain


class EntryMeta(BaseModel):
    """When and by whom an entry was recorded, and the episode version it made."""

    version: int
    recorded_at: datetime
    actor: ActorPublic
    amended_by: list[int] = Field(
        default=[],
        description="the versions of the amendments that corrected this entry, "
        "oldest first (its fields show the corrected values)",
    )
    original: dict[str, Any] | None = Field(
        default=None,
        description="the entry as first recorded (`occurred_at` and its fields), "
        "when amendments corrected it",
    )


class ReferralEntry(EntryMeta, OpenEpisodeCreate):
    """A referral: the first one opened the episode."""


class ScreeningEntry(EntryMeta, ScreenRedFlagsCreate):
    """A red-flag screen."""


class DiagnosticEntry(EntryMeta, RecordDiagnosticCreate):
    """A completed diagnostic."""


class ConservativeCareEntry(EntryMeta, RecordConservativeCareCreate):
    """A course of conservative care."""


class TreatmentPlanEntry(EntryMeta, PlanTreatmentCreate):
    """A treatment plan."""


class InterventionEntry(EntryMeta, PerformInterventionCreate):
    """A therapeutic procedure."""


class BiologicEntry(EntryMeta, AdministerBiologicCreate):
    """A regenerative biologic."""


class OutcomeEntry(EntryMeta, RecordOutcomeCreate):
    """A patient-reported outcome."""


class SurgeryReferralEntry(EntryMeta, ReferToSurgeryCreate):
    """A referral to a spine surgeon."""


class ConsultNoteEntry(EntryMeta, SendConsultNoteCreate):
    """A consult note sent to the referring physician."""


class AssignmentEntry(EntryMeta, AssignClinicianCreate):
    """A clinician taking the episode's work."""


class ClosureEntry(EntryMeta, CloseEpisodeCreate):
    """The closure of the episode."""


class AmendmentEntry(EntryMeta):
    """An amendment: which entry it corrected, the fields it changed and why."""

    occurred_at: datetime
    amends_version: int
    amends_type: str
    fields: dict[str, Any]
    reason: str


class AssigneePublic(BaseModel):
    clinician_id: str
    clinician_name: str


class EpisodePublic(BaseModel):
    """A care episode as it stands (now, at a version, or as of an instant)."""

    episode_id: UUID
    version: int
    patient_id: str
    status: EpisodeStatus
    opened_at: datetime
    last_occurred_at: datetime
    referrer: ReferrerPublic
    pathway: list[Service]
    red_flags: list[RedFlag]
    screened: bool
    pain_generators: list[PainGenerator]
    assignee: AssigneePublic | None
    closure_reason: ClosureReason | None
    referrals: list[ReferralEntry]
    red_flag_screenings: list[ScreeningEntry]
    diagnostics: list[DiagnosticEntry]
    conservative_care: list[ConservativeCareEntry]
    treatment_plans: list[TreatmentPlanEntry]
    interventions: list[InterventionEntry]
    biologics: list[BiologicEntry]
    outcomes: list[OutcomeEntry]
    surgery_referrals: list[SurgeryReferralEntry]
    consult_notes: list[ConsultNoteEntry]
    assignments: list[AssignmentEntry]
    closures: list[ClosureEntry]
    amendments: list[AmendmentEntry] = []


class HistoryItem(BaseModel):
    """One stored event with its metadata; `chain_hash` links it to the one before."""

    version: int
    type: str
    position: int | None = Field(
        description="the event's place in the global order; null for a physician, "
        "who learns nothing of other patients' events (the version orders its own)"
    )
    occurred_at: datetime
    recorded_at: datetime
    actor: ActorPublic
    idempotency_key: str | None
    chain_hash: str
    data: dict[str, Any]


class HistoryPage(BaseModel):
    """A page of an episode's history, oldest first."""

    episode_id: UUID
    items: list[HistoryItem]
    next_cursor: str | None


class EpisodeFoundPublic(BaseModel):
    """An episode a search found: enough to pick it and read it."""

    episode_id: UUID
    patient_id: str
    opened_at: datetime
    status: EpisodeStatus
    assignee_id: str | None
    version: int


class EpisodesPage(BaseModel):
    """A page of episodes in the order they opened."""

    items: list[EpisodeFoundPublic]
    next_cursor: str | None
