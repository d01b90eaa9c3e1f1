"""R5-R8: how injections, RFA and biologics were given and measured (DOMAIN.md)."""

from __future__ import annotations

from projections.base import State
from projections.referral_audit.facts import (
    RFA,
    Fact,
    baseline_before,
    best_relief,
    esis,
    in_clinical_order,
    interventions_by,
    on,
    outcomes_following,
    positive_blocks,
)
from projections.referral_audit.findings import R5, R6, R7, R8, Finding
from projections.referral_audit.parameters import AuditRules


def r5_esi_frequency_exceeded(state: State, rules: AuditRules) -> list[Finding]:
    """R5: more ESIs in one region within the window than the rule set allows."""
    findings = []
    given = esis(state)
    for index, esi in enumerate(given):
        # A rolling window: an ESI exactly `esi_window` earlier has left it.
        window = [
            earlier
            for earlier in given[: index + 1]
            if earlier["region"] == esi["region"]
            and esi["at"] - earlier["at"] < rules.esi_window
        ]
        if len(window) > rules.esi_max_per_region:
            detail = (
                f"{esi['region']} ESI on {on(esi['at'])} (v{esi['version']}) is "
                f"number {len(window)} within {rules.esi_window.days} days "
                f"(at most {rules.esi_max_per_region} per region)"
            )
            findings.append(R5.finding(esi, detail))
    return findings


def r6_repeat_esi_without_response(state: State, rules: AuditRules) -> list[Finding]:
    """R6: an ESI repeated with no outcome after the previous one, or little relief."""
    findings = []
    previous: dict[str, Fact] = {}
    for esi in esis(state):
        before = previous.get(esi["region"])
        previous[esi["region"]] = esi
        if before is None:
            continue
        repeat = (
            f"ESI on {on(esi['at'])} (v{esi['version']}) repeats the one of "
            f"{on(before['at'])} (v{before['version']})"
        )
        followed = [
            fact
            for fact in outcomes_following(state, before["version"])
            if fact["at"] <= esi["at"]
        ]
        relief = best_relief(state, before, until=esi["at"])
        if not followed:
            detail = f"{repeat} with no outcome recorded after it"
            findings.append(R6.finding(esi, detail))
        elif relief is not None and relief < rules.responder_relief_percent:
            detail = (
                f"{repeat}, which gave {relief:.0f} % relief (a responder reports "
                f"at least {rules.responder_relief_percent} %)"
            )
            findings.append(R6.finding(esi, detail))
    return findings


def r7_rfa_without_confirmed_block(state: State, rules: AuditRules) -> list[Finding]:
    """R7: RFA without the positive blocks the active profile requires at its levels."""
    profile = rules.blocks
    findings = []
    for rfa in (fact for fact in interventions_by(state) if fact["procedure"] == RFA):
        kind = rules.rfa_blocks[rfa["region"]]
        confirming = [
            block
            for block in positive_blocks(state, rules, kind)
            if block["region"] == rfa["region"]
            and set(rfa["levels"]) <= set(block["levels"])
            and block["at"] <= rfa["at"]
            and (profile.within is None or rfa["at"] - block["at"] <= profile.within)
        ]
        if len(confirming) < profile.blocks_required:
            detail = (
                f"RFA on {on(rfa['at'])} (v{rfa['version']}) at "
                f"{', '.join(rfa['levels'])} had {len(confirming)} of the "
                f"{profile.blocks_required} {kind}(s) with at least "
                f"{profile.min_relief_percent} % relief the {profile.name} "
                "profile requires"
            )
            findings.append(R7.finding(rfa, detail))
    return findings


def r8_outcome_not_measured(state: State, rules: AuditRules) -> list[Finding]:
    """R8: a treatment with no baseline outcome, or none in its follow-up window."""
    earliest, latest = rules.follow_up_window
    weeks = f"weeks {earliest.days // 7}-{latest.days // 7}"
    findings = []
    for treatment in in_clinical_order(state["interventions"] + state["biologics"]):
        what = treatment.get("procedure") or treatment.get("product")
        given = f"{what} on {on(treatment['at'])} (v{treatment['version']})"
        follow_ups = outcomes_following(state, treatment["version"])
        deadline = treatment["at"] + latest
        if baseline_before(state, treatment) is None:
            detail = f"{given} has no baseline outcome before it"
            findings.append(R8.finding(treatment, detail))
        elif any(earliest <= f["at"] - treatment["at"] <= latest for f in follow_ups):
            continue
        elif any(fact["at"] > deadline for fact in follow_ups):
            detail = f"{given} was followed up only after {weeks}"
            findings.append(R8.finding(treatment, detail))
        else:
            detail = f"{given} has no outcome recorded in {weeks} after it"
            findings.append(R8.finding(treatment, detail, fires_at=deadline))
    return findings
