"""What the referral-loop audit answers readers (implemented in infra.views)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from projections.referral_audit.findings import V2_RULES
from projections.referral_audit.summary import AuditSummary

# GET /audit/referral-loops?rule= takes a rule's id or its name.
RULE_IDS = {
    **{rule.id: rule.id for rule in V2_RULES},
    **{rule.name: rule.id for rule in V2_RULES},
}


def rule_id(text: str) -> str | None:
    """The rule id a `rule` filter names (R1-R11 or a rule name), or None."""
    return RULE_IDS.get(text.strip())


@dataclass(frozen=True)
class AuditFilters:
    """What GET /audit/referral-loops narrows the episodes to."""

    rule: str | None = None
    """A rule id (R1-R11); the API also takes a rule's name (`rule_id`)."""
    severity: str | None = None
    referrer_id: str | None = None
    """Episodes with a referral from this referrer."""
    surgeon_id: str | None = None
    """Episodes referred to this surgeon."""
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None
    flagged_only: bool = True
    physician_id: str | None = None
    """Only episodes this physician referred (a physician caller's scope)."""


# Where a page ends: (opened_at, episode_id) of its last row.
PageKey = tuple[datetime, str]


class ReferralAuditView(Protocol):
    """The questions the referral-loop audit answers, judged at the reader's `now`."""

    def page(
        self, filters: AuditFilters, now: datetime, after: PageKey | None, limit: int
    ) -> tuple[list[dict[str, Any]], PageKey | None]:
        """One page of audit rows in (opened_at, episode_id) order, and the next key."""
        ...

    def episode(
        self, episode_id: UUID, now: datetime
    ) -> tuple[dict[str, Any], set[str]] | None:
        """One episode's audit row and its referrers, or None if it is not audited."""
        ...

    def summary(self, now: datetime) -> AuditSummary:
        """Counts and rates per rule, severity, referrer and surgeon; pathway metrics."""
        ...
