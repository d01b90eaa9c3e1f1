"""The referral-loop audit: episodes that went round the loop, and the summary."""

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from api.access import DisclosureDep
from api.auth import Staff
from api.conditional import ConditionalDep
from api.deps import EpisodesDep, ReadModelsDep, SettingsDep, ViewsDep, read_after
from api.errors import Problem
from api.openapi import NOT_MODIFIED, problems
from api.paging import After, Limit, decode_key_cursor, encode_key_cursor
from api.routes.audit_replay import ReplayDep, ReplaysDep, replayed_row
from api.schemas.audit import AuditEpisodePublic, AuditPage
from api.schemas.audit_replay import AuditReplayPublic
from api.schemas.common import Instant
from domain.errors import EpisodeNotFound, PatientDataErased
from infra.erasure import was_erased
from projections.referral_audit import (
    RULE_IDS,
    AuditFilters,
    AuditSummary,
    ReferralAuditProjection,
    Severity,
    rule_id,
)

router = APIRouter(prefix="/audit/referral-loops", tags=["audit"])
AUDIT = ReferralAuditProjection.name

CaughtUp = Annotated[int | None, Depends(read_after(AUDIT))]
RuleFilter = Annotated[
    str | None,
    Query(
        max_length=64,
        description="a rule id (R1-R11) or its name, e.g. R8 or outcome_not_measured",
    ),
]
SeverityName = Annotated[Severity | None, Query(description="medium, high or critical")]


@router.get(
    "/summary",
    responses=problems(403, 422),
    summary="Summarise the referral-loop audit",
)
def get_summary(
    _staff: Staff,
    _caught_up: CaughtUp,
    read_models: ReadModelsDep,
    views: ViewsDep,
    settings: SettingsDep,
) -> AuditSummary:
    """Counts and rates per rule, severity, referrer and surgeon, and the pathway
    metrics (medians for durations), with time-based findings judged now. Not for
    physicians (it spans every physician's patients); no ETag: it is judged at the
    instant it is asked (`as_of`)."""
    return views.referral_audit.summary(datetime.now(UTC))


@router.get(
    "",
    responses={**NOT_MODIFIED, **problems(422)},
    summary="List audited episodes",
)
def list_audited_episodes(
    access: DisclosureDep,
    conditional: ConditionalDep,
    _caught_up: CaughtUp,
    read_models: ReadModelsDep,
    views: ViewsDep,
    settings: SettingsDep,
    rule: RuleFilter = None,
    severity: SeverityName = None,
    referrer_id: Annotated[str | None, Query(max_length=128)] = None,
    surgeon_id: Annotated[str | None, Query(max_length=128)] = None,
    occurred_from: Annotated[
        Instant | None, Query(description="opened at or after")
    ] = None,
    occurred_to: Annotated[Instant | None, Query(description="opened before")] = None,
    flagged_only: Annotated[
        bool, Query(description="only episodes with a finding due now")
    ] = True,
    after: After = None,
    limit: Limit = 50,
) -> AuditPage:
    """Audited episodes in the order they opened, with their findings (by default
    only those with a finding due now: `flagged_only` in the answer says which); a
    physician sees only the episodes it referred. The `ETag` is a digest of the
    page: `If-None-Match` with it answers 304."""
    filters = AuditFilters(
        rule=_rule(rule),
        severity=severity.value if severity else None,
        referrer_id=referrer_id,
        surgeon_id=surgeon_id,
        occurred_from=occurred_from,
        occurred_to=occurred_to,
        flagged_only=flagged_only,
        physician_id=access.physician_scope,
    )
    rows, next_key = views.referral_audit.page(
        filters, datetime.now(UTC), decode_key_cursor("audit", after), limit
    )
    access.rows(UUID(row["episode_id"]) for row in rows)
    page = AuditPage(
        items=[AuditEpisodePublic(**row) for row in rows],
        next_cursor=encode_key_cursor("audit", next_key),
        flagged_only=flagged_only,
    )
    return conditional.content(page)


@router.get(
    "/{episode_id}",
    responses={**NOT_MODIFIED, **problems(403, 404, 410, 422)},
    summary="Read an episode's audit row",
)
def get_audited_episode(
    episode_id: UUID,
    _caught_up: CaughtUp,
    access: DisclosureDep,
    conditional: ConditionalDep,
    read_models: ReadModelsDep,
    views: ViewsDep,
    settings: SettingsDep,
    replay: ReplayDep,
    replays: ReplaysDep,
    episodes: EpisodesDep,
) -> AuditReplayPublic:
    """One episode's audit row: pathway, findings with the version that triggered
    each, each surgery referral with its exemption and findings, rules version and
    profile, and pathway metrics. 404 until the audit has processed the episode
    (pass `min_position`); the `ETag` is a digest of the row. With `version`,
    `as_of`, `rules`, `rules_version` or `judged_at` the row is replayed from the
    events by the same rules code (`replay` says from what; docs/referral-audit.md)."""
    if replay.requested:
        return conditional.content(replayed_row(episode_id, replay, access, replays))
    view = views.referral_audit

    def load() -> tuple[dict[str, Any], set[str]]:
        found = view.episode(episode_id, datetime.now(UTC))
        if found is None:
            # The row of an erased episode is gone; its erasure is recorded: 410,
            # as the episode's own read answers.
            if was_erased(episodes, episode_id):
                raise PatientDataErased(episode_id)
            raise EpisodeNotFound(episode_id)
        return found

    row, _ = access.episode(episode_id, load, lambda found: found[1])
    return conditional.content(AuditReplayPublic(**row))


def _rule(text: str | None) -> str | None:
    """The rule id a `rule` filter names; 422 listing the allowed ones otherwise."""
    if text is None:
        return None
    found = rule_id(text)
    if found is None:
        allowed = list(RULE_IDS)
        message = f"{text!r} is not a rule id or name"
        raise Problem(
            422,
            "invalid-request",
            "The request is invalid",
            f"rule: {message}",
            errors=[
                {"field": "rule", "in": "query", "message": message, "allowed": allowed}
            ],
        )
    return found
