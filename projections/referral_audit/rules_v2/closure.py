"""R11 (rule set v2): an episode closed for surgery that never referred to a surgeon."""

from __future__ import annotations

from projections.base import State
from projections.clinical.definitions import on
from projections.referral_audit.findings import R11, Finding
from projections.referral_audit.rules_v2.parameters import AuditRulesV2


def r11_surgery_without_referral(state: State, rules: AuditRulesV2) -> list[Finding]:
    """R11: closed with reason `surgery` and no surgery referral on record."""
    closed = state["closed"]
    if not closed or closed["reason"] != rules.surgery_closure:
        return []
    if state["surgery_referrals"]:
        return []
    detail = (
        f"episode closed for {rules.surgery_closure} on {on(closed['at'])} "
        f"(v{closed['version']}) with no surgery referral on record"
    )
    return [R11.finding(closed, detail)]
