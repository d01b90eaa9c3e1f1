"""R5-R8 (rule set v2): how injections, RFA and biologics were given and measured.

ESIs count by session (DOMAIN v2 "ESI session": one patient, one calendar date,
one region group, whatever the levels), so a same-day second level is neither a
second procedure (R5, R8) nor a repeat (R6). R5 is judged per patient, over all
of the patient's episodes (CMS L39240 limits are per patient).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from projections.base import State
from projections.clinical.definitions import (
    Fact,
    Session,
    esi_sessions,
    esis_of,
    in_clinical_order,
    in_rolling_year,
    months_before,
    on,
    outcomes_following,
    relief_after,
    when,
)
from projections.referral_audit.findings import R5, R6, R7, R8, Finding
from projections.referral_audit.rules_v2.parameters import AuditRulesV2


def r5_esi_frequency_exceeded(
    esis: Iterable[Fact], rules: AuditRulesV2
) -> list[tuple[str, Finding]]:
    """R5 over one patient's ESIs (each fact with its `episode_id`): each session
    beyond the limit in its region group's rolling 12 months, with the episode
    that holds it. The finding names every session it counts."""
    sessions = esi_sessions(esis)
    findings = []
    for session in sessions:
        window = [
            earlier
            for earlier in sessions
            if earlier.group == session.group
            and in_rolling_year(earlier.day, session.day, rules.esi_window_days)
        ]
        if len(window) <= rules.esi_max_sessions:
            continue
        counted = "; ".join(_named(earlier) for earlier in window)
        detail = (
            f"{session.group} ESI session on {session.day.isoformat()} is number "
            f"{len(window)} in the {rules.esi_window_days} days ending that day "
            f"(at most {rules.esi_max_sessions} per patient): {counted}"
        )
        first = session.first
        finding = R5.finding(first, detail, subject=f"{session.group} {session.day}")
        findings.append((first["episode_id"], finding))
    return findings


def r6_repeat_esi_without_response(state: State, rules: AuditRulesV2) -> list[Finding]:
    """R6: an ESI session after an earlier one of the same region group that had no
    outcome after it before the new session, or relief below the responder level."""
    findings = []
    previous: dict[str, Session] = {}
    for session in esi_sessions(esis_of(state)):
        before = previous.get(session.group)
        previous[session.group] = session
        if before is None:
            continue
        start = when(session.first)
        repeat = (
            f"ESI session on {session.day.isoformat()} (v{session.first['version']}) "
            f"repeats the one of {before.day.isoformat()} "
            f"(v{before.first['version']})"
        )
        versions = [esi["version"] for esi in before.esis]
        followed = [f for f in outcomes_following(state, versions) if when(f) < start]
        relief = relief_after(state, before.esis, start)
        if not followed:
            detail = f"{repeat} with no outcome recorded after it"
            findings.append(R6.finding(session.first, detail))
        elif relief is not None and relief < rules.responder_relief_percent:
            detail = (
                f"{repeat}, which gave {relief:.0f} % relief (a responder reports "
                f"at least {rules.responder_relief_percent} %)"
            )
            findings.append(R6.finding(session.first, detail))
    return findings


def r7_rfa_without_confirmed_block(state: State, rules: AuditRulesV2) -> list[Finding]:
    """R7: RFA without the positive blocks the active profile requires at its
    levels (before it; NHS profile: within its calendar months)."""
    profile = rules.blocks
    findings = []
    rfas = (f for f in state["interventions"] if f["procedure"] == rules.rfa)
    for rfa in in_clinical_order(rfas):
        kind = rules.rfa_blocks[rfa["region"]]
        relief = (
            rules.evidence.si_block_min_relief
            if kind == "si_joint_block"
            else profile.min_relief_percent
        )
        since = (
            months_before(rfa["at"].date(), profile.within_months)
            if profile.within_months is not None
            else None
        )
        confirming = [
            block
            for block in state["diagnostics"]
            if block["kind"] == kind
            and block["region"] == rfa["region"]
            and (block["relief"] or 0) >= relief
            and set(rfa["levels"]) <= set(block["levels"])
            and when(block) < when(rfa)
            and (since is None or block["at"].date() >= since)
        ]
        if len(confirming) < profile.blocks_required:
            detail = (
                f"RFA on {on(rfa['at'])} (v{rfa['version']}) at "
                f"{', '.join(rfa['levels'])} had {len(confirming)} of the "
                f"{profile.blocks_required} {kind}(s) with at least {relief} % "
                f"relief the {profile.name} profile requires"
            )
            findings.append(R7.finding(rfa, detail))
    return findings


def r8_outcome_not_measured(state: State, rules: AuditRulesV2) -> list[Finding]:
    """R8: a treatment (an ESI session counts once) with no baseline outcome
    before it, or none naming it in its follow-up window."""
    earliest, latest = rules.follow_up_window
    weeks = f"weeks {earliest.days // 7}-{latest.days // 7}"
    findings = []
    for treatment in _treatments(state, rules):
        first = treatment[0]
        what = first.get("procedure") or first.get("product")
        given = f"{what} on {on(first['at'])} (v{first['version']})"
        versions = [fact["version"] for fact in treatment]
        follow_ups = outcomes_following(state, versions)
        deadline = first["at"] + latest
        if not _baseline_before(state, first, versions):
            findings.append(
                R8.finding(first, f"{given} has no baseline outcome before it")
            )
        elif any(earliest <= f["at"] - first["at"] <= latest for f in follow_ups):
            continue
        elif any(fact["at"] > deadline for fact in follow_ups):
            detail = f"{given} was followed up only after {weeks}"
            findings.append(R8.finding(first, detail))
        else:
            detail = f"{given} has no outcome recorded in {weeks} after it"
            findings.append(R8.finding(first, detail, fires_at=deadline))
    return findings


def _treatments(state: State, rules: AuditRulesV2) -> list[Sequence[Fact]]:
    """Each treatment R8 follows up: an ESI session, another intervention, a biologic."""
    sessions = [list(s.esis) for s in esi_sessions(esis_of(state))]
    others = [
        [fact]
        for fact in state["interventions"] + state["biologics"]
        if fact.get("procedure") != rules.esi
    ]
    return sorted(sessions + others, key=lambda facts: when(facts[0]))


def _baseline_before(state: State, first: Fact, versions: Sequence[int]) -> bool:
    """Whether an outcome (not one following this treatment) precedes it."""
    return any(
        fact["at"] <= first["at"] and fact["follows"] not in versions
        for fact in state["outcomes"]
    )


def _named(session: Session) -> str:
    first = session.first
    return f"{session.day.isoformat()} (episode {first['episode_id']}, v{first['version']})"
