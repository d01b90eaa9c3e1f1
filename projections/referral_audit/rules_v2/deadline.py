"""R9-R10 (rule set v2): what must follow a red flag within hours, a referral within days.

Both read no clock: while the recorded events leave a deadline open the finding
carries it as `fires_at` and a reader counts it once its own clock has passed
it. An answer in time removes the finding; one after the deadline makes it
definite, and its detail says when the answer came.
"""

from __future__ import annotations

from datetime import timedelta

from domain.values import RedFlag
from projections.base import State
from projections.clinical.definitions import (
    Fact,
    FlagRun,
    flag_runs,
    in_clinical_order,
    on,
    when,
)
from projections.referral_audit.findings import R9, R10, Finding
from projections.referral_audit.rules_v2.parameters import AuditRulesV2

CAUDA_EQUINA = RedFlag.CAUDA_EQUINA.value
INFECTION = RedFlag.INFECTION.value


def r9_red_flag_escalation_late(state: State, rules: AuditRulesV2) -> list[Finding]:
    """R9: each standing run of cauda equina without an emergent surgery referral
    within 4 h, or of infection without an MRI or CT within 6 h."""
    emergent = [
        fact
        for fact in in_clinical_order(state["surgery_referrals"])
        if fact["urgency"] == rules.cauda_equina_answer
    ]
    imaging = [
        fact
        for fact in in_clinical_order(state["diagnostics"])
        if fact["kind"] in rules.infection_imaging_kinds
    ]
    findings = []
    for run in flag_runs(state):
        if run.flag == CAUDA_EQUINA:
            what = f"an {rules.cauda_equina_answer} surgery referral"
            window = rules.cauda_equina_escalation
            findings += _escalation(run, emergent, window, what, surgeon=True)
        elif run.flag == INFECTION:
            what = " or ".join(sorted(k.upper() for k in rules.infection_imaging_kinds))
            window = rules.infection_imaging
            findings += _escalation(run, imaging, window, what, surgeon=False)
    return findings


def r10_referral_loop_open(state: State, rules: AuditRulesV2) -> list[Finding]:
    """R10: a primary-care or concierge referral whose referrer got no consult note
    within 14 days (a later note does not clear it; the detail says when it came)."""
    within = rules.consult_note_within
    findings = []
    for referral in in_clinical_order(state["referrals"]):
        if referral["referrer_role"] not in rules.consult_note_referrers:
            continue
        notes = [
            note
            for note in in_clinical_order(state["consult_notes"])
            if note["to"] == referral["referrer_id"] and when(note) > when(referral)
        ]
        if any(note["at"] - referral["at"] <= within for note in notes):
            continue
        what = (
            f"{referral['referrer_role']} referral from {referral['referrer_id']} on "
            f"{on(referral['at'])} (v{referral['version']})"
        )
        charged = {"referrer_id": referral["referrer_id"]}
        if notes:
            late = notes[0]
            days = (late["at"] - referral["at"]).total_seconds() / 86400
            detail = (
                f"{what} got its consult note on {on(late['at'])} "
                f"(v{late['version']}), {days:.1f} days later, not within "
                f"{within.days} days"
            )
            findings.append(R10.finding(referral, detail, **charged))
        else:
            detail = f"{what} has no consult note sent within {within.days} days"
            deadline = referral["at"] + within
            findings.append(R10.finding(referral, detail, fires_at=deadline, **charged))
    return findings


def _escalation(
    run: FlagRun, answers: list[Fact], within: timedelta, what: str, *, surgeon: bool
) -> list[Finding]:
    """R9 for one run of a red flag: `what` must happen within `within` of it.

    The window reaches both ways from the statement that raised the flag (a flag
    and its escalation are often recorded at one sitting, in either order). A run
    ruled out before its deadline asks for nothing; an answer after the deadline
    makes the finding definite.
    """
    start = run.start
    deadline = start["at"] + within
    if any(abs(answer["at"] - start["at"]) <= within for answer in answers):
        return []
    if run.end is not None and run.end["at"] <= deadline:
        return []
    limit = f"{within.total_seconds() / 3600:g} h"
    standing = f"{run.flag} standing from {on(start['at'])} (v{start['version']})"
    subject = f"{run.flag} {start['version']}"
    late = [answer for answer in answers if answer["at"] > deadline]
    if late:
        answer = late[0]
        delay = (answer["at"] - start["at"]).total_seconds() / 3600
        detail = f"{standing}; {what} came {delay:g} h later, not within {limit}"
        charged = (
            {"surgeon_id": answer["surgeon_id"], "surgery_version": answer["version"]}
            if surgeon
            else {}
        )
        return [R9.finding(start, detail, subject=subject, **charged)]
    if run.end is not None:
        detail = f"{standing} with no {what} within {limit} (ruled out later)"
        return [R9.finding(start, detail, subject=subject)]
    detail = f"{standing} with no {what} within {limit}"
    return [R9.finding(start, detail, fires_at=deadline, subject=subject)]
