"""The referral-loop audit read model: which episodes went round the loop, and why.

Rule set v2 (served): `projection` keeps each episode's clinical facts as its
state and judges the rules (`rules_v2/`, thresholds in `rules_v2.parameters`)
in `settle`, R5 on the patient's key (`patient`); `totals` keeps the summary's
running counts; `report` shapes stored rows and totals for readers; `view` is
the questions the read model answers (implemented in SQL by
infra.views.referral_audit). Rule set v1 stays importable for replays:
`projection_v1`, `rules/`, `parameters` (RULES_V1), `metrics`, `summary`.
"""

from projections.referral_audit.findings import (
    RULES,
    V2_RULES,
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
from projections.referral_audit.projection import ReferralAuditProjection
from projections.referral_audit.projection_v1 import (
    EPISODES,
    FINDINGS,
    REFERRERS,
    SURGEONS,
    ReferralAuditProjectionV1,
    episode_row,
    finding_row,
)
from projections.referral_audit.rules import evaluate
from projections.referral_audit.rules_v2 import RULES_V2, AuditRulesV2
from projections.referral_audit.summary import AuditSummary, audit_row, summarize
from projections.referral_audit.view import (
    RULE_IDS,
    AuditFilters,
    PageKey,
    ReferralAuditView,
    rule_id,
)

__all__ = [
    "BLOCK_PROFILES",
    "EPISODES",
    "FINDINGS",
    "REFERRERS",
    "RULES",
    "RULES_V1",
    "RULES_V2",
    "RULE_IDS",
    "SURGEONS",
    "V2_RULES",
    "AuditFilters",
    "AuditRules",
    "AuditRulesV2",
    "AuditSummary",
    "Finding",
    "PageKey",
    "ReferralAuditProjection",
    "ReferralAuditProjectionV1",
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
    "rule_id",
    "summarize",
]
