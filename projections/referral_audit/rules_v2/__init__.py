"""Rule set v2 of the referral-loop audit (DOMAIN.md): the registry and evaluation.

Each rule is a small pure function of an episode's clinical facts and the rule
set (`AuditRulesV2`), returning its findings; one module per rule family. R5
spans a patient's episodes, so it takes the patient's ESIs instead
(`r5_esi_frequency_exceeded`) and the projection runs it on the patient's key.
"""

from __future__ import annotations

from collections.abc import Callable

from projections.base import State
from projections.referral_audit.findings import (
    R1,
    R2,
    R3,
    R4,
    R6,
    R7,
    R8,
    R9,
    R10,
    R11,
    Finding,
    Rule,
)
from projections.referral_audit.rules_v2.closure import r11_surgery_without_referral
from projections.referral_audit.rules_v2.deadline import (
    r9_red_flag_escalation_late,
    r10_referral_loop_open,
)
from projections.referral_audit.rules_v2.injections import (
    r5_esi_frequency_exceeded,
    r6_repeat_esi_without_response,
    r7_rfa_without_confirmed_block,
    r8_outcome_not_measured,
)
from projections.referral_audit.rules_v2.parameters import (
    RULES_V2,
    AuditRulesV2,
    audit_rules_v2,
)
from projections.referral_audit.rules_v2.surgery import (
    Judged,
    r1_surgeon_pain_surgeon_loop,
    r2_surgery_without_workup,
    r3_premature_surgery_referral,
    r4_injections_only_before_surgery,
    red_flag_exempt,
    surgery_referrals,
)

__all__ = [
    "EPISODE_CHECKS",
    "RULES_V2",
    "AuditRulesV2",
    "Judged",
    "audit_rules_v2",
    "evaluate_episode",
    "r5_esi_frequency_exceeded",
    "red_flag_exempt",
    "rule_order",
    "surgery_referrals",
]

Check = Callable[[State, AuditRulesV2], list[Finding]]

# Every rule judged on one episode; R5 is judged on the patient (see above).
EPISODE_CHECKS: tuple[tuple[Rule, Check], ...] = (
    (R1, r1_surgeon_pain_surgeon_loop),
    (R2, r2_surgery_without_workup),
    (R3, r3_premature_surgery_referral),
    (R4, r4_injections_only_before_surgery),
    (R6, r6_repeat_esi_without_response),
    (R7, r7_rfa_without_confirmed_block),
    (R8, r8_outcome_not_measured),
    (R9, r9_red_flag_escalation_late),
    (R10, r10_referral_loop_open),
    (R11, r11_surgery_without_referral),
)


def rule_order(finding: Finding) -> tuple[int, int, str]:
    """Findings in rule order, then by version and subject."""
    return int(finding.rule[1:]), finding.at_version, finding.subject


def evaluate_episode(state: State, rules: AuditRulesV2) -> list[Finding]:
    """Every finding of the episode-wide rules on one episode, in rule order."""
    findings = [
        finding for _, check in EPISODE_CHECKS for finding in check(state, rules)
    ]
    return sorted(findings, key=rule_order)
