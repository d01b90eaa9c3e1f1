"""What an audit rule reports: a finding, and whether it counts at a given instant."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any


class Severity(Enum):
    """How bad a finding is (DOMAIN.md rule table)."""

    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """Orders severities: medium < high < critical."""
        return list(Severity).index(self)


@dataclass(frozen=True)
class Finding:
    """One rule broken by one event of an episode.

    `fires_at` is None for a definite finding. A time-based rule whose deadline
    has not been reached by the recorded events carries the deadline instead, and
    counts only once a reader's clock has passed it (see `is_due`). `subject` tells
    apart two findings of one rule on one event (R9: two red flags on one screen).
    """

    rule: str
    name: str
    severity: Severity
    at_version: int
    occurred_at: datetime
    detail: str
    fires_at: datetime | None = None
    surgeon_id: str | None = None
    subject: str = ""
    referrer_id: str | None = None
    """Rule set v2: the referrer the finding is charged to (None: the opening one)."""
    surgery_version: int | None = None
    """Rule set v2: the version of the surgery referral the finding concerns."""


@dataclass(frozen=True)
class Rule:
    """A rule of DOMAIN.md's table: its id, name and severity."""

    id: str
    name: str
    severity: Severity

    def finding(
        self,
        record: Mapping[str, Any],
        detail: str,
        *,
        fires_at: datetime | None = None,
        surgeon_id: str | None = None,
        subject: str = "",
        referrer_id: str | None = None,
        surgery_version: int | None = None,
    ) -> Finding:
        """A finding of this rule triggered by the event behind `record`."""
        return Finding(
            rule=self.id,
            name=self.name,
            severity=self.severity,
            at_version=record["version"],
            occurred_at=record["at"],
            detail=detail,
            fires_at=fires_at,
            surgeon_id=surgeon_id,
            subject=subject,
            referrer_id=referrer_id,
            surgery_version=surgery_version,
        )


# The rule table of DOMAIN.md (rule set v1): id, name, severity.
R1 = Rule("R1", "surgeon_pain_surgeon_loop", Severity.HIGH)
R2 = Rule("R2", "surgery_without_workup", Severity.HIGH)
R3 = Rule("R3", "premature_surgery_referral", Severity.HIGH)
R4 = Rule("R4", "injections_only_before_surgery", Severity.MEDIUM)
R5 = Rule("R5", "esi_frequency_exceeded", Severity.HIGH)
R6 = Rule("R6", "repeat_esi_without_response", Severity.MEDIUM)
R7 = Rule("R7", "rfa_without_confirmed_block", Severity.HIGH)
R8 = Rule("R8", "outcome_not_measured", Severity.MEDIUM)
R9 = Rule("R9", "red_flag_escalation_late", Severity.CRITICAL)
R10 = Rule("R10", "referral_loop_open", Severity.MEDIUM)
RULES = (R1, R2, R3, R4, R5, R6, R7, R8, R9, R10)
# Rule set v2 adds R11 (DOMAIN.md v2 rule table).
R11 = Rule("R11", "surgery_without_referral", Severity.MEDIUM)
V2_RULES = (*RULES, R11)


def is_due(finding: Finding | Mapping[str, Any], now: datetime) -> bool:
    """Whether a finding (or a stored finding row) counts at the reader's `now`."""
    fires_at = (
        finding.fires_at if isinstance(finding, Finding) else finding.get("fires_at")
    )
    return fires_at is None or fires_at <= now


def due_findings(findings: Iterable[Finding], now: datetime) -> list[Finding]:
    """The findings that count at `now`: definite ones and those past their deadline."""
    return [finding for finding in findings if is_due(finding, now)]
