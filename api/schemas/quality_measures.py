"""Response bodies of the quality measures."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from projections.quality_measures import Status


class _FromView(BaseModel):
    """Read from the view's summary dataclasses."""

    model_config = ConfigDict(from_attributes=True)


class RatePublic(_FromView):
    """One group's counts and rate: numerator / denominator, the denominator being
    the eligible decisions less the excluded ones; pending ones count nowhere yet."""

    key: str = Field(description="the measure, a referrer id or a period")
    eligible: int
    excluded: int
    denominator: int
    numerator: int
    rate: float | None = Field(description="numerator / denominator; null if empty")
    pending: int = Field(description="decided once a window closes after now")
    not_eligible: int
    exclusions: dict[str, int] = Field(description="the excluded, per exclusion")


class MeasureReportPublic(_FromView):
    """One measure's definition, its rate and its rates per referrer and period."""

    measure: str
    name: str
    unit: str = Field(
        description="what one decision is about: an episode or an ESI session"
    )
    inverted: bool = Field(
        description="true: the numerator counts care avoided (higher is better)"
    )
    source: str
    denominator_definition: str
    numerator_definition: str
    exclusions_definition: str
    overall: RatePublic
    by_referrer: list[RatePublic] = Field(description="charged to the opening referrer")
    by_period: list[RatePublic] = Field(
        description="by the UTC month, quarter or year of each decision's anchor"
    )


class QualityMeasuresPublic(_FromView):
    """Every measure's rates at `as_of` (windows judged at that instant)."""

    as_of: datetime
    rules_version: int
    period: str
    measures: list[MeasureReportPublic]


class AmendmentRefPublic(BaseModel):
    """The amendment whose correction of the event the decision read."""

    version: int | None = Field(description="the EventAmended's version")
    position: int | None = Field(description="its global position (null: physician)")


class DecidingEventPublic(BaseModel):
    """An event that decided a measure (`role` says how). A physician sees no
    global positions, nor which other episodes of the patient were involved."""

    episode_id: UUID | None
    version: int | None
    position: int | None
    type: str
    role: str = Field(examples=["opening", "imaging", "intake", "relief"])
    occurred_at: datetime
    amended_by: AmendmentRefPublic | None = Field(
        default=None,
        description="set when the event was amended: the decision read the "
        "corrected event",
    )


class VerdictPublic(BaseModel):
    """A decision's status, the exclusion it names and why."""

    status: Status
    exclusion: str | None
    reason: str


class DecisionPublic(BaseModel):
    """One measure's decision on one episode (on one ESI session for ESI-RESP), as
    it reads now; while a window is still open, `final` is what it becomes at
    `due_at` if nothing else is recorded."""

    measure: str
    episode_id: UUID
    subject: str = Field(
        description='"episode", or the ESI session ("lumbosacral 2026-04-01")'
    )
    patient_id: str
    referrer_id: str
    opened_at: datetime
    anchor_at: datetime = Field(description="the instant that places it in a period")
    period: str = Field(description="the UTC month of anchor_at")
    status: Status
    exclusion: str | None
    reason: str
    due_at: datetime | None = Field(description="when its window closes (null: none)")
    final: VerdictPublic | None
    deciding: list[DecidingEventPublic]


class DecisionsPage(BaseModel):
    """A page of one measure's decisions, in (anchor_at, episode, subject) order."""

    measure: str
    items: list[DecisionPublic]
    next_cursor: str | None
