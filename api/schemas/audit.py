"""Response bodies of the referral-loop audit."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field


class AuditFindingPublic(BaseModel):
    """One rule an episode broke, at the version of the event that triggered it."""

    rule: str
    name: str
    severity: str
    at_version: int
    detail: str
    scope: str = Field(
        "episode", description="episode: judged on this episode; patient: across the "
        "patient's episodes (R5)"
    )  # fmt: skip
    referrer_id: str | None = Field(None, description="the referrer it is charged to")
    surgeon_id: str | None = Field(
        None, description="the surgeon it is charged to (R1-R4, R9), else null"
    )
    fires_at: datetime | None = Field(
        None,
        description="the deadline a time-based finding counted from; null: definite",
    )


class SurgeryReferralAuditPublic(BaseModel):
    """One surgery referral as the audit judged it: its own exemption and findings."""

    at_version: int
    occurred_on: str
    surgeon_id: str
    urgency: str
    intent: str
    indication: str
    red_flags: list[str] = Field(description="red flags standing at the referral")
    red_flag_exempt: bool = Field(
        description="emergent or urgent while a red flag stands: exempt from R1-R4"
    )
    findings: list[str] = Field(description="the rules this referral broke")


class AuditEpisodePublic(BaseModel):
    """One episode's audit row: its pathway, findings and pathway metrics."""

    episode_id: UUID
    patient_id: str
    referrer_id: str
    pathway: list[str]
    findings: list[AuditFindingPublic]
    surgery_referrals: list[SurgeryReferralAuditPublic] = []
    rules_version: int
    rules_profile: str
    red_flag_exempt: bool = Field(
        description="the episode has surgery referrals and every one is exempt"
    )
    metrics: dict[str, Any]


class AuditPage(BaseModel):
    """A page of audited episodes in the order they opened."""

    items: list[AuditEpisodePublic]
    next_cursor: str | None
    flagged_only: bool = Field(
        description="true: only episodes with a finding due now are listed"
    )
