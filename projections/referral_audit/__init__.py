"""The referral-loop audit read model: which episodes went round the loop, and why.

`projection` keeps each episode's clinical facts (`state`), re-judges the rules
(`rules/`, thresholds in `parameters`) after every event and writes its rows;
`summary` shapes stored rows for readers; `view` is the questions the read model
answers (implemented in SQL by infra.views.referral_audit).
"""

from projections.referral_audit.findings import (
    RULES,
    Finding,
    Severity,
    due_findings,
    is_due,
)
from projections.referral_audit.metrics import metrics_as_of
from projections.referral_audit.parameters import (
    BLOCK_PROFILES,
    RULES_V1,
    AuditRules,
    audit_rules,
)
from projections.referral_audit.projection import (
    EPISODES,
    FINDINGS,
    REFERRERS,
    SURGEONS,
    ReferralAuditProjection,
    episode_row,
    finding_row,
)
from projections.referral_audit.rules import evaluate
from projections.referral_audit.summary import AuditSummary, audit_row, summarize
from projections.referral_audit.view import AuditFilters, PageKey, ReferralAuditView

__all__ = [
    "BLOCK_PROFILES",
    "EPISODES",
    "FINDINGS",
    "REFERRERS",
    "RULES",
    "RULES_V1",
    "SURGEONS",
    "AuditFilters",
    "AuditRules",
    "AuditSummary",
    "Finding",
    "PageKey",
    "ReferralAuditProjection",
    "ReferralAuditView",
    "Severity",
    "audit_row",
    "audit_rules",
    "due_findings",
    "episode_row",
    "evaluate",
    "finding_row",
    "is_due",
    "metrics_as_of",
    "summarize",
]
