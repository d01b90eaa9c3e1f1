"""Response bodies of audit replays: a replayed row, the timeline, the evidence packet."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from api.schemas.audit import AuditEpisodePublic, AuditFindingPublic


class ReplayPublic(BaseModel):
    """What a replayed audit row was computed from."""

    version: int = Field(description="the episode's version the replay reached")
    as_of: datetime | None = Field(
        None,
        description="the recorded instant the events were cut at, if one was given",
    )
    judged_at: datetime = Field(
        description="the clock time-based findings were judged at"
    )
    rules_version: int
    rules_profile: str
    pending: list[AuditFindingPublic] = Field(
        description="findings whose deadline had not passed at judged_at"
    )


class AuditReplayPublic(AuditEpisodePublic):
    """One episode's audit row; with `replay` when it was computed from the events
    (`version`, `as_of`, `rules`, `rules_version` or `judged_at` given)."""

    replay: ReplayPublic | None = Field(
        None, description="null: the row the audit projection serves"
    )


class TimelineStepPublic(BaseModel):
    """What one recorded event changed in the episode's findings."""

    version: int = Field(description="the episode's version after the step")
    cause: Literal["event", "patient"] = Field(
        description="event: the episode's own event at `version`; patient: an event "
        "of another of the patient's episodes (R5 counts their sessions)"
    )
    type: str | None = Field(description="the event type (null for cause patient)")
    occurred_at: datetime | None
    recorded_at: datetime
    appeared: list[AuditFindingPublic]
    cleared: list[AuditFindingPublic]
    changed: list[AuditFindingPublic] = Field(
        description="findings still there with another detail or deadline"
    )


class AuditTimelinePublic(BaseModel):
    """For each version of the episode, the findings that appeared or cleared at it."""

    episode_id: UUID
    version: int = Field(description="the last version the timeline shows")
    rules_version: int
    rules_profile: str
    steps: list[TimelineStepPublic]


class ChainLinkPublic(BaseModel):
    """An event's hash-chain link and what it covers."""

    previous: str
    topic: str
    state_sha256: str
    link: str


class EvidenceEventPublic(BaseModel):
    """One event of the episode's history, with who recorded it and when."""

    version: int
    type: str
    occurred_at: datetime
    recorded_at: datetime
    actor: dict[str, Any]
    data: dict[str, Any]
    position: int | None = Field(
        None, description="global position (not for physicians)"
    )
    chain: ChainLinkPublic


class EvidenceFindingPublic(AuditFindingPublic):
    """A finding with the events it rests on and the rule it applies."""

    rests_on: list[int] = Field(description="the versions of this episode it rests on")
    rests_on_other_episodes: list[dict[str, Any]]
    rule_text: str
    sources: list[str]
    code: str = Field(description="the module of the rule set that implements it")
    rules_version: int


class ChainHeadPublic(BaseModel):
    version: int
    link: str


class EvidenceChainPublic(BaseModel):
    """How the links are computed, the packet's head and the store's head."""

    algorithm: str
    genesis: str
    head: ChainHeadPublic
    store_head: ChainHeadPublic


class EvidencePublic(BaseModel):
    """One episode's evidence packet for a case review."""

    kind: str
    format: int
    episode_id: UUID
    patient_id: str
    referrer_id: str
    generated_at: datetime
    judged_at: datetime
    version: int
    as_of: datetime | None
    rules: dict[str, Any]
    pathway: list[str]
    red_flag_exempt: bool
    surgery_referrals: list[dict[str, Any]]
    metrics: dict[str, Any]
    findings: list[EvidenceFindingPublic]
    pending_findings: list[EvidenceFindingPublic]
    history: list[EvidenceEventPublic]
    chain: EvidenceChainPublic
