"""R1-R4: what a surgery referral should have been preceded by (DOMAIN.md)."""

from __future__ import annotations

from datetime import timedelta

from domain.values import Urgency
from projections.base import State
from projections.referral_audit.facts import (
    Fact,
    conservative_care_days,
    generators_identified_by,
    imaging,
    in_clinical_order,
    interventions_by,
    loop_before,
    on,
    regenerative_door_opened_by,
)
from projections.referral_audit.findings import R1, R2, R3, R4, Finding, Rule
from projections.referral_audit.parameters import AuditRules

ELECTIVE = Urgency.ELECTIVE.value


def red_flag_exempt(state: State, rules: AuditRules) -> bool:
    """DOMAIN exemption: a red flag found and an emergent or urgent surgery referral."""
    return bool(state["red_flags"]) and any(
        referral["urgency"] in rules.exempting_urgencies
        for referral in state["surgery_referrals"]
    )


def r1_surgeon_pain_surgeon_loop(state: State, rules: AuditRules) -> list[Finding]:
    """R1: spine surgery, pain medicine, then a surgery referral, no generator found."""
    findings = []
    for referral in _audited(state, rules, elective_only=False):
        loop = loop_before(state, referral)
        if loop and not generators_identified_by(state, rules, referral["at"]):
            surgeon, pain = loop
            detail = (
                f"{_referral(referral)} after spine surgery on {on(surgeon.at)} "
                f"(v{surgeon.version}) and pain medicine on {on(pain.at)} "
                f"(v{pain.version}), with no pain generator identified"
            )
            findings.append(_about(R1, referral, detail))
    return findings


def r2_surgery_without_workup(state: State, rules: AuditRules) -> list[Finding]:
    """R2: elective referral with no recent imaging, or no pain generator."""
    findings = []
    for referral in _audited(state, rules):
        since = referral["at"] - rules.imaging_window
        missing = []
        if not any(
            since <= fact["at"] <= referral["at"] for fact in imaging(state, rules)
        ):
            missing.append(
                f"no imaging in the {rules.imaging_window.days} days before it"
            )
        if not generators_identified_by(state, rules, referral["at"]):
            missing.append("no pain generator identified")
        if missing:
            detail = f"elective {_referral(referral)} with {' and '.join(missing)}"
            findings.append(_about(R2, referral, detail))
    return findings


def r3_premature_surgery_referral(state: State, rules: AuditRules) -> list[Finding]:
    """R3: elective referral with too little documented conservative care."""
    minimum = rules.conservative_care_minimum
    findings = []
    for referral in _audited(state, rules):
        # DOMAIN "Surgery referral": premature only when no red flag had been found.
        if any(flag["at"] <= referral["at"] for flag in state["red_flags"]):
            continue
        days = conservative_care_days(state, until=referral["at"].date())
        if timedelta(days=days) < minimum:
            detail = (
                f"elective {_referral(referral)} after {_weeks(days)} of documented "
                f"conservative care (at least {_weeks(minimum.days)})"
            )
            findings.append(_about(R3, referral, detail))
    return findings


def r4_injections_only_before_surgery(state: State, rules: AuditRules) -> list[Finding]:
    """R4: elective referral after injections only: no care or regenerative option."""
    findings = []
    for referral in _audited(state, rules):
        injections = interventions_by(state, referral["at"])
        if (
            injections
            and conservative_care_days(state, until=referral["at"].date()) == 0
            and not regenerative_door_opened_by(state, rules, referral["at"])
        ):
            detail = (
                f"elective {_referral(referral)} after {len(injections)} "
                "injection(s), no conservative care and no regenerative option "
                "in a plan"
            )
            findings.append(_about(R4, referral, detail))
    return findings


def _audited(state: State, rules: AuditRules, *, elective_only: bool = True) -> list:
    """The surgery referrals R1-R4 judge, in clinical order; none if exempt."""
    if red_flag_exempt(state, rules):
        return []
    return [
        referral
        for referral in in_clinical_order(state["surgery_referrals"])
        if not elective_only or referral["urgency"] == ELECTIVE
    ]


def _about(rule: Rule, referral: Fact, detail: str) -> Finding:
    return rule.finding(referral, detail, surgeon_id=referral["surgeon_id"])


def _referral(referral: Fact) -> str:
    return f"surgery referral on {on(referral['at'])} (v{referral['version']})"


def _weeks(days: int) -> str:
    weeks, rest = divmod(days, 7)
    text = f"{weeks} week{'' if weeks == 1 else 's'}"
    return f"{text} {rest} day{'' if rest == 1 else 's'}" if rest else text
