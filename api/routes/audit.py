"""The referral-loop audit: episodes that went round the loop, and the summary."""

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime

from api.access import DisclosureDep
from api.auth import Staff
from api.deps import ReadModelsDep, SettingsDep, ViewsDep, read_after
from api.errors import Problem
from api.paging import After, Limit, decode_cursor, encode_cursor
from api.schemas.audit import AuditEpisodePublic, AuditPage
from domain.errors import EpisodeNotFound
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


@router.get("/summary")
def get_summary(
    _staff: Staff,
    _caught_up: CaughtUp,
    read_models: ReadModelsDep,
    views: ViewsDep,
    settings: SettingsDep,
) -> AuditSummary:
    """Counts and rates per rule, severity, referrer and surgeon, and the pathway
    metrics (medians for durations), with time-based findings judged now."""
    return views.referral_audit.summary(datetime.now(UTC))


@router.get("")
def list_audited_episodes(
    access: DisclosureDep,
    _caught_up: CaughtUp,
    read_models: ReadModelsDep,
    views: ViewsDep,
    settings: SettingsDep,
    rule: RuleFilter = None,
    severity: SeverityName = None,
    referrer_id: Annotated[str | None, Query(max_length=128)] = None,
    surgeon_id: Annotated[str | None, Query(max_length=128)] = None,
    occurred_from: Annotated[
        datetime | None, Query(description="opened at or after")
    ] = None,
    occurred_to: Annotated[
        AwareDatetime | None, Query(description="opened before")
    ] = None,
    flagged_only: Annotated[
        bool, Query(description="only episodes with a finding due now")
    ] = True,
    after: After = None,
    limit: Limit = 50,
) -> AuditPage:
    """Audited episodes in the order they opened, with their findings (by default
    only those with a finding due now: `flagged_only` in the answer says which); a
    physician sees only the episodes it referred."""
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
        filters, datetime.now(UTC), _audit_cursor(after), limit
    )
    access.rows(UUID(row["episode_id"]) for row in rows)
    cursor = (
        encode_cursor("audit", f"{next_key[0].isoformat()}|{next_key[1]}")
        if next_key
        else None
    )
    return AuditPage(
        items=[AuditEpisodePublic(**row) for row in rows],
        next_cursor=cursor,
        flagged_only=flagged_only,
    )


@router.get("/{episode_id}")
def get_audited_episode(
    episode_id: UUID,
    _caught_up: CaughtUp,
    access: DisclosureDep,
    read_models: ReadModelsDep,
    views: ViewsDep,
    settings: SettingsDep,
) -> AuditEpisodePublic:
    """One episode's audit row: pathway, findings with the version that triggered
    each, each surgery referral with its exemption and findings, rules version and
    profile, and pathway metrics."""
    view = views.referral_audit

    def load() -> tuple[dict[str, Any], set[str]]:
        found = view.episode(episode_id, datetime.now(UTC))
        if found is None:
            raise EpisodeNotFound(episode_id)
        return found

    row, _ = access.episode(episode_id, load, lambda found: found[1])
    return AuditEpisodePublic(**row)


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


def _audit_cursor(after: str | None) -> tuple[datetime, str] | None:
    value = decode_cursor("audit", after)
    if value is None:
        return None
    opened, _, episode = value.partition("|")
    try:
        return datetime.fromisoformat(opened), str(UUID(episode))
    except ValueError:
        raise Problem(
            422, "invalid-cursor", "The cursor is invalid", "after: unknown cursor"
        ) from None
