"""FS-CHG: functional status change on the ODI, intake to discharge (CMS MIPS 220).

Denominator: closed episodes with an ODI at intake (the first within 14 days of
opening). Exclusions: closed within 14 days of opening (`closed_within_14_days`);
a red-flag exempt surgery referral (`red_flag_exempt_surgery`: emergent or
urgent while a red flag stands, DOMAIN.md v2). Numerator: the latest ODI in the
30 days before closure, after the intake one, improved on it by >= 10 points or
30 % (Ostelo 2008). Closure ends the episode, so no decision waits for a clock.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from projections.base import State
from projections.clinical.definitions import (
    flag_runs,
    improved,
    in_clinical_order,
    on,
    when,
)
from projections.quality_measures.decisions import (
    Decision,
    Located,
    Status,
    Verdict,
    days_after,
)
from projections.quality_measures.imaging import opening_fact
from projections.quality_measures.parameters import FS_CHG, MeasureRules


def fs_change(state: State, rules: MeasureRules) -> Decision:
    """FS-CHG of one episode."""
    located = Located.of(state)
    opened = state["opened_at"]
    refs = [located.ref(opening_fact(state), "opening", "referrals")]
    closed = state["closed"]
    if closed is None:
        verdict = Verdict(Status.NOT_ELIGIBLE, "the episode is not closed")
        return Decision(FS_CHG, verdict, opened, tuple(refs))
    closed_at = closed["at"]
    refs.append(located.ref(closed, "closure", "closed"))

    def decided(verdict: Verdict, *more: dict[str, Any]) -> Decision:
        return Decision(FS_CHG, verdict, closed_at, (*refs, *more))

    instrument = rules.fs_instrument
    scores = [
        f for f in in_clinical_order(state["outcomes"]) if f["instrument"] == instrument
    ]
    intake = next(
        (f for f in scores if days_after(opened, f["at"]) <= rules.fs_intake_days),
        None,
    )
    if intake is None:
        reason = (
            f"no {instrument.upper()} within {rules.fs_intake_days} days of opening"
        )
        return decided(Verdict(Status.NOT_ELIGIBLE, reason))
    refs.append(located.ref(intake, "intake", "outcomes"))
    open_days = days_after(opened, closed_at)
    if open_days <= rules.fs_min_open_days:
        reason = f"closed on day {open_days}, within {rules.fs_min_open_days} days"
        exclusion = f"closed_within_{rules.fs_min_open_days}_days"
        return decided(Verdict(Status.EXCLUDED, reason, exclusion))
    exempt = _exempt_surgery(state, rules)
    if exempt is not None:
        referral, start = exempt
        reason = (
            f"{referral['urgency']} surgery referral on {on(referral['at'])} "
            f"(v{referral['version']}) while a red flag stood: red-flag exempt"
        )
        kind = "red_flags" if start.get("source") == "referral" else "screenings"
        return decided(
            Verdict(Status.EXCLUDED, reason, "red_flag_exempt_surgery"),
            located.ref(referral, "surgery_referral", "surgery_referrals"),
            located.ref(start, "red_flag", kind),
        )
    near = [
        f
        for f in scores
        if when(f) > when(intake)
        and 0 <= days_after(f["at"], closed_at) <= rules.fs_discharge_days
    ]
    if not near:
        reason = (
            f"no {instrument.upper()} after intake in the {rules.fs_discharge_days} "
            "days before closure"
        )
        return decided(Verdict(Status.DENOMINATOR, reason))
    discharge = near[-1]
    before, after = Decimal(intake["score"]), Decimal(discharge["score"])
    change = f"{instrument.upper()} {before:f} -> {after:f}"
    mcid = rules.fs_mcid
    threshold = f"{mcid.points:f} points" + (
        f" or {mcid.percent:f} %" if mcid.percent is not None else ""
    )
    discharged = located.ref(discharge, "discharge", "outcomes")
    if improved(before, after, mcid):
        verdict = Verdict(
            Status.NUMERATOR, f"{change}: improved by at least {threshold}"
        )
    else:
        verdict = Verdict(
            Status.DENOMINATOR, f"{change}: improved by less than {threshold}"
        )
    return decided(verdict, discharged)


def _exempt_surgery(
    state: State, rules: MeasureRules
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The first emergent or urgent surgery referral made while a red flag stood,
    with the statement that raised the flag."""
    runs = flag_runs(state)
    for referral in in_clinical_order(state["surgery_referrals"]):
        if referral["urgency"] not in rules.exempting_urgencies:
            continue
        moment = when(referral)
        standing = [run for run in runs if run.stands_at(moment)]
        if standing:
            return referral, standing[0].start
    return None
