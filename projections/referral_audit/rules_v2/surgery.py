"""R1-R4 (rule set v2): what a surgery referral should have been preceded by.

Each surgery referral is judged on its own: one that is emergent or urgent while
a red flag stands is exempt (DOMAIN v2 "Red-flag exemption"); every other one,
whatever its urgency, is judged by R1-R4.
"""

from __future__ import annotations

from dataclasses import dataclass

from projections.base import State
from projections.clinical.definitions import (
    Fact,
    Moment,
    documented_care_days,
    identified_between,
    identified_by,
    in_clinical_order,
    months_before,
    on,
    standing_flags,
    when,
)
from projections.referral_audit.findings import R1, R2, R3, R4, Finding, Rule
from projections.referral_audit.rules_v2.parameters import AuditRulesV2
from projections.referral_audit.rules_v2.pathway import latest_loop_before


@dataclass(frozen=True)
class Judged:
    """One surgery referral with the red flags standing at it and its exemption."""

    referral: Fact
    red_flags: tuple[str, ...]
    exempt: bool

    @property
    def moment(self) -> Moment:
        return when(self.referral)


def surgery_referrals(state: State, rules: AuditRulesV2) -> list[Judged]:
    """Every surgery referral in clinical order, with its own exemption."""
    judged = []
    for referral in in_clinical_order(state["surgery_referrals"]):
        flags = tuple(sorted(standing_flags(state, when(referral))))
        urgent = referral["urgency"] in rules.exempting_urgencies
        judged.append(Judged(referral, flags, exempt=urgent and bool(flags)))
    return judged


def red_flag_exempt(state: State, rules: AuditRulesV2) -> bool:
    """The row's flag: the episode has surgery referrals and every one is exempt."""
    judged = surgery_referrals(state, rules)
    return bool(judged) and all(j.exempt for j in judged)


def audited(state: State, rules: AuditRulesV2) -> list[Fact]:
    """The surgery referrals R1-R4 judge: every one that is not exempt."""
    return [j.referral for j in surgery_referrals(state, rules) if not j.exempt]


def r1_surgeon_pain_surgeon_loop(state: State, rules: AuditRulesV2) -> list[Finding]:
    """R1: spine surgery, then pain medicine, then this referral, and no pain
    generator identified between that surgeon visit and the referral."""
    findings = []
    for referral in audited(state, rules):
        loop = latest_loop_before(state, referral)
        if loop is None:
            continue
        surgeon, pain = loop
        if identified_between(state, rules.evidence, surgeon.moment, when(referral)):
            continue
        detail = (
            f"{_referral(referral)} after spine surgery on {on(surgeon.at)} "
            f"(v{surgeon.version}) and pain medicine on {on(pain.at)} "
            f"(v{pain.version}), with no pain generator identified in between"
        )
        findings.append(_about(R1, referral, detail))
    return findings


def r2_surgery_without_workup(state: State, rules: AuditRulesV2) -> list[Finding]:
    """R2: no MRI or CT in the 6 calendar months before it, or no pain generator
    identified by then."""
    findings = []
    for referral in audited(state, rules):
        since = months_before(referral["at"].date(), rules.workup_months)
        missing = []
        if not any(
            fact["kind"] in rules.workup_imaging
            and since <= fact["at"].date()
            and when(fact) <= when(referral)
            for fact in state["diagnostics"]
        ):
            kinds = " or ".join(sorted(k.upper() for k in rules.workup_imaging))
            missing.append(f"no {kinds} since {since.isoformat()}")
        if not identified_by(state, rules.evidence, when(referral)):
            missing.append("no pain generator identified")
        if missing:
            detail = f"{_referral(referral)} with {' and '.join(missing)}"
            findings.append(_about(R2, referral, detail))
    return findings


def r3_premature_surgery_referral(state: State, rules: AuditRulesV2) -> list[Finding]:
    """R3: fewer than 6 weeks of documented conservative care by its day."""
    minimum = rules.conservative_care_min_days
    findings = []
    for referral in audited(state, rules):
        days = documented_care_days(state, referral["at"].date())
        if days < minimum:
            detail = (
                f"{_referral(referral)} after {_days(days)} of documented "
                f"conservative care (at least {_days(minimum)})"
            )
            findings.append(_about(R3, referral, detail))
    return findings


def r4_injections_only_before_surgery(
    state: State, rules: AuditRulesV2
) -> list[Finding]:
    """R4: at least one injection and nothing else before it: no other treatment,
    no conservative care, no regenerative option in a plan."""
    findings = []
    for referral in audited(state, rules):
        moment = when(referral)
        before = [f for f in state["interventions"] if when(f) < moment]
        injections = [f for f in before if f["procedure"] in rules.injections]
        others = [f for f in before if f["procedure"] not in rules.injections]
        biologics = [f for f in state["biologics"] if when(f) < moment]
        door = any(
            when(plan) < moment
            and plan["regenerative_option"] in rules.regenerative_doors
            for plan in state["plans"]
        )
        care = documented_care_days(state, referral["at"].date())
        if injections and not (others or biologics or door or care):
            detail = (
                f"{_referral(referral)} after {len(injections)} injection(s) and "
                "no other treatment: no conservative care and no regenerative "
                "option in a plan"
            )
            findings.append(_about(R4, referral, detail))
    return findings


def _about(rule: Rule, referral: Fact, detail: str) -> Finding:
    return rule.finding(
        referral,
        detail,
        surgeon_id=referral["surgeon_id"],
        surgery_version=referral["version"],
    )


def _referral(referral: Fact) -> str:
    return (
        f"{referral['urgency']} surgery referral on {on(referral['at'])} "
        f"(v{referral['version']})"
    )


def _days(days: int) -> str:
    weeks, rest = divmod(days, 7)
    text = f"{weeks} week{'' if weeks == 1 else 's'}"
    return f"{text} {rest} day{'' if rest == 1 else 's'}" if rest else text
