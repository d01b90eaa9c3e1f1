"""Response bodies of the referral-loop audit."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import BaseModel


class AuditFindingPublic(BaseModel):
    """One rule an episode broke, at the version of the event that triggered it."""

    rule: str
    name: str
    severity: str
    at_version: int
    detail: str


class AuditEpisodePublic(BaseModel):
    """One episode's audit row: its pathway, findings and pathway metrics."""

    episode_id: UUID
    patient_id: str
    referrer_id: str
    pathway: list[str]
    findings: list[AuditFindingPublic]
    rules_version: int
    red_flag_exempt: bool
    metrics: dict[str, Any]


class AuditPage(BaseModel):
    """A page of audited episodes in the order they opened."""

    items: list[AuditEpisodePublic]
    next_cursor: str | None
