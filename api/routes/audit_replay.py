"""Audit replays: an episode's audit row at any version or instant under any rule
set, the timeline of its findings, and the evidence packet for a case review."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from api.access import Disclosure, DisclosureDep
from api.conditional import ConditionalDep
from api.deps import ContainerDep
from api.errors import Problem
from api.evidence_page import render_evidence
from api.openapi import NOT_MODIFIED, problems
from api.schemas.audit import AuditFindingPublic
from api.schemas.audit_replay import (
    AuditReplayPublic,
    AuditTimelinePublic,
    EvidencePublic,
    ReplayPublic,
    TimelineStepPublic,
)
from api.schemas.common import MAX_INT64, Instant
from infra.audit_replay import AuditReplays
from projections.referral_audit.replay import Cut, RuleSet, replay_rules

router = APIRouter(prefix="/audit/referral-loops", tags=["audit"])

Profile = Literal["payer", "nhs"]
READ_PROBLEMS = problems(403, 404, 422)


@dataclass(frozen=True)
class ReplayQuery:
    """Which events a replay folds, which rules judge them, and when."""

    version: int | None = None
    as_of: datetime | None = None
    rules: str | None = None
    rules_version: int | None = None
    judged_at: datetime | None = None

    @property
    def requested(self) -> bool:
        """Whether the caller asked for anything but the served row."""
        return any(
            value is not None
            for value in (
                self.version,
                self.as_of,
                self.rules,
                self.rules_version,
                self.judged_at,
            )
        )

    @property
    def cut(self) -> Cut:
        return Cut(version=self.version, as_of=self.as_of)

    def rule_set(self, default: RuleSet) -> RuleSet:
        """The rules named (the deployment's where none is)."""
        return replay_rules(self.rules_version, self.rules, default=default)

    def now(self) -> datetime:
        return self.judged_at or datetime.now(UTC)


async def replay_query(
    version: Annotated[
        int | None,
        Query(ge=1, le=MAX_INT64, description="judge the episode's first N events"),
    ] = None,
    as_of: Annotated[
        Instant | None,
        Query(description="judge the events recorded by this instant (store time)"),
    ] = None,
    rules: Annotated[
        Profile | None,
        Query(description="the block profile to judge by (default: the deployment's)"),
    ] = None,
    rules_version: Annotated[
        int | None,
        Query(ge=1, le=2, description="the rule set to judge by: 1 or 2 (default 2)"),
    ] = None,
    judged_at: Annotated[
        Instant | None,
        Query(description="the clock time-based findings are judged at (default now)"),
    ] = None,
) -> ReplayQuery:
    """The replay a request asks for; 422 for version and as_of together."""
    if version is not None and as_of is not None:
        raise Problem(
            422,
            "invalid-request",
            "The request is invalid",
            "give version or as_of, not both",
            errors=[{"field": "as_of", "in": "query", "message": "not with version"}],
        )
    return ReplayQuery(version, as_of, rules, rules_version, judged_at)


async def get_replays(container: ContainerDep) -> AuditReplays:
    return AuditReplays.of(container)


ReplayDep = Annotated[ReplayQuery, Depends(replay_query)]
ReplaysDep = Annotated[AuditReplays, Depends(get_replays)]


def replayed_row(
    episode_id: UUID, query: ReplayQuery, access: Disclosure, replays: AuditReplays
) -> AuditReplayPublic:
    """GET /audit/referral-loops/{id} with a replay asked for: the row computed
    from the events at the cut, scoped and logged like the served row."""
    rules = query.rule_set(replays.rules)
    replay = access.episode(
        episode_id, lambda: replays.replay(episode_id, query.cut, rules)
    )
    now = query.now()
    return AuditReplayPublic(
        **replay.audit_row(now),
        replay=ReplayPublic(
            version=replay.version,
            as_of=query.as_of,
            judged_at=now,
            rules_version=rules.version,
            rules_profile=rules.profile,
            pending=[AuditFindingPublic(**f) for f in replay.pending(now)],
        ),
    )


@router.get(
    "/{episode_id}/timeline",
    responses={**NOT_MODIFIED, **READ_PROBLEMS},
    summary="Read when an episode's findings appeared and cleared",
)
def get_timeline(
    episode_id: UUID,
    access: DisclosureDep,
    conditional: ConditionalDep,
    replays: ReplaysDep,
    query: ReplayDep,
) -> AuditTimelinePublic:
    """For each version of the episode, the findings that appeared, cleared or
    changed when it was recorded (pending deadlines included, with `fires_at`),
    plus a step for each event of the patient's other episodes that changed one
    (R5); `version`/`as_of` end it early, `rules`/`rules_version` judge it by
    another rule set. A physician reads only the episodes it referred."""
    rules = query.rule_set(replays.rules)
    steps = access.episode(
        episode_id, lambda: replays.timeline(episode_id, query.cut, rules)
    )
    timeline = AuditTimelinePublic(
        episode_id=episode_id,
        version=max((s.version for s in steps), default=0),
        rules_version=rules.version,
        rules_profile=rules.profile,
        steps=[TimelineStepPublic(**vars(step)) for step in steps],
    )
    return conditional.content(timeline)


@router.get(
    "/{episode_id}/evidence",
    response_model=EvidencePublic,
    responses={
        200: {"content": {"text/html": {"schema": {"type": "string"}}}},
        **READ_PROBLEMS,
    },
    summary="Read an episode's evidence packet for a case review",
)
def get_evidence(
    request: Request,
    episode_id: UUID,
    access: DisclosureDep,
    replays: ReplaysDep,
    query: ReplayDep,
    format: Annotated[
        Literal["json", "html"] | None,
        Query(description="html: the printable page (also for Accept: text/html)"),
    ] = None,
) -> Any:
    """The episode's history with actors and times, each finding with the events it
    rests on, the rule's text and sources, the rule set version, and every event's
    hash-chain link with the chain head, so the packet can be checked against
    `care-episodes verify` later (`care-episodes audit check-evidence`). JSON, or
    a printable HTML page."""
    rules = query.rule_set(replays.rules)
    document = access.episode(
        episode_id,
        lambda: replays.evidence(
            episode_id,
            query.now(),
            cut=query.cut,
            rules=rules,
            with_positions=access.physician_scope is None,
        ),
    )
    packet = EvidencePublic.model_validate(document)
    if format == "html" or (format is None and _wants_html(request)):
        return HTMLResponse(render_evidence(document))
    return packet


def _wants_html(request: Request) -> bool:
    """Whether the Accept header prefers HTML to JSON (a browser's does)."""
    accept = request.headers.get("accept", "")
    first = accept.split(",")[0].split(";")[0].strip().lower()
    return first in ("text/html", "application/xhtml+xml")
