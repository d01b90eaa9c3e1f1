"""R9-R10: what must follow a red flag within hours, and a referral within days."""

from __future__ import annotations

from datetime import timedelta

from domain.values import RedFlag, Urgency
from projections.base import State
from projections.referral_audit.facts import (
    Fact,
    imaging,
    in_clinical_order,
    on,
    red_flags_found,
)
from projections.referral_audit.findings import R9, R10, Finding
from projections.referral_audit.parameters import AuditRules

CAUDA_EQUINA = RedFlag.CAUDA_EQUINA.value
INFECTION = RedFlag.INFECTION.value


def r9_red_flag_escalation_late(state: State, rules: AuditRules) -> list[Finding]:
    """R9: cauda equina not referred emergently in time, or infection not imaged."""
    found = red_flags_found(state)
    findings = []
    if CAUDA_EQUINA in found:
        emergent = [
            referral
            for referral in in_clinical_order(state["surgery_referrals"])
            if referral["urgency"] == Urgency.EMERGENT.value
        ]
        findings += _escalation(
            found[CAUDA_EQUINA],
            emergent,
            rules.cauda_equina_escalation,
            "an emergent surgery referral",
        )
    if INFECTION in found:
        findings += _escalation(
            found[INFECTION], imaging(state, rules), rules.infection_imaging, "imaging"
        )
    return findings


def r10_referral_loop_open(state: State, rules: AuditRules) -> list[Finding]:
    """R10: a primary-care or concierge referral whose physician got no consult note."""
    findings = []
    for referral in in_clinical_order(state["referrals"]):
        if referral["referrer_role"] not in rules.consult_note_referrers:
            continue
        # The issue: a consult note sent clears R10, even one sent after the deadline.
        if any(
            note["to"] == referral["referrer_id"] and note["at"] >= referral["at"]
            for note in state["consult_notes"]
        ):
            continue
        detail = (
            f"{referral['referrer_role']} referral from {referral['referrer_id']} on "
            f"{on(referral['at'])} (v{referral['version']}) has no consult note sent "
            f"within {rules.consult_note_within.days} days"
        )
        fires_at = referral["at"] + rules.consult_note_within
        findings.append(R10.finding(referral, detail, fires_at=fires_at))
    return findings


def _escalation(
    flag: Fact, answers: list[Fact], within: timedelta, what: str
) -> list[Finding]:
    """R9 for one red flag: `what` must happen within `within` of the flag being found.

    The window reaches both ways: a flag and its escalation are often recorded at
    one sitting in either order (an MRI showing discitis, then the screen). An
    answer after the deadline makes the finding definite.
    """
    if any(abs(answer["at"] - flag["at"]) <= within for answer in answers):
        return []
    limit = f"{within.total_seconds() / 3600:g} h"
    found = f"{flag['flag']} found on {on(flag['at'])} (v{flag['version']})"
    deadline = flag["at"] + within
    late = [answer for answer in answers if answer["at"] > deadline]
    if late:
        delay = (late[0]["at"] - flag["at"]).total_seconds() / 3600
        detail = f"{found}; {what} came {delay:g} h later, not within {limit}"
        return [R9.finding(flag, detail, subject=flag["flag"])]
    detail = f"{found} with no {what} within {limit}"
    return [R9.finding(flag, detail, fires_at=deadline, subject=flag["flag"])]
