"""Rules R1-R10 of the referral-loop audit (DOMAIN.md): the registry and evaluation.

Each rule is a pure function of an episode's audit state and the rule set,
returning its findings. Time-based rules (R8, R9, R10) read no clock: while the
recorded events leave a deadline open they report it as `fires_at`, and a reader
counts the finding only once its own clock has passed it (query-time evaluation,
`is_due`). A later event that answers in time removes the finding; an answer
recorded after the deadline makes R8 and R9 definite, while R10 is cleared by a
consult note sent at any time (the issue: "a consult note sent clears R10").
"""

from __future__ import annotations

from collections.abc import Callable

from projections.base import State
from projections.referral_audit.findings import (
    R1,
    R2,
    R3,
    R4,
    R5,
    R6,
    R7,
    R8,
    R9,
    R10,
    Finding,
    Rule,
)
from projections.referral_audit.parameters import AuditRules
from projections.referral_audit.rules.deadline import (
    r9_red_flag_escalation_late,
    r10_referral_loop_open,
)
from projections.referral_audit.rules.surgery import (
    r1_surgeon_pain_surgeon_loop,
    r2_surgery_without_workup,
    r3_premature_surgery_referral,
    r4_injections_only_before_surgery,
    red_flag_exempt,
)
from projections.referral_audit.rules.treatment import (
    r5_esi_frequency_exceeded,
    r6_repeat_esi_without_response,
    r7_rfa_without_confirmed_block,
    r8_outcome_not_measured,
)

__all__ = ["CHECKS", "evaluate", "red_flag_exempt"]

Check = Callable[[State, AuditRules], list[Finding]]

CHECKS: tuple[tuple[Rule, Check], ...] = (
    (R1, r1_surgeon_pain_surgeon_loop),
    (R2, r2_surgery_without_workup),
    (R3, r3_premature_surgery_referral),
    (R4, r4_injections_only_before_surgery),
    (R5, r5_esi_frequency_exceeded),
    (R6, r6_repeat_esi_without_response),
    (R7, r7_rfa_without_confirmed_block),
    (R8, r8_outcome_not_measured),
    (R9, r9_red_flag_escalation_late),
    (R10, r10_referral_loop_open),
)


def evaluate(state: State, rules: AuditRules) -> list[Finding]:
    """Every finding of every rule on the episode, ordered by rule and version."""
    findings = [finding for _, check in CHECKS for finding in check(state, rules)]
    return sorted(findings, key=lambda f: (int(f.rule[1:]), f.at_version, f.subject))
