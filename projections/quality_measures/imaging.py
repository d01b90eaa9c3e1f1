"""LBP-IMG: imaging for uncomplicated low back pain (inverted: higher is better).

Denominator: episodes opened for low back pain, patient 18-75, no prior episode
of the patient in the 6 months before. Exclusions: a red flag standing in the
28 days (named `radicular_progressive_deficit` for a radicular presentation
with a progressive deficit, `red_flag` otherwise). Numerator: no X-ray, MRI or
CT within 28 days of opening. Days are calendar days on the opening's clock,
the day of opening being day 0 (HEDIS: the index date and the 28 days after).
`episode_decision` judges the episode's own events; `with_prior` then applies
the patient's earlier episodes (judged on the patient's key).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, time
from typing import Any

from projections.base import State
from projections.clinical.definitions import (
    flag_runs,
    in_clinical_order,
    months_before,
    on,
)
from projections.quality_measures.decisions import (
    Decision,
    Located,
    Status,
    Verdict,
    days_after,
    end_of_day,
)
from projections.quality_measures.parameters import LBP_IMG, MeasureRules


def opening_fact(state: State) -> dict[str, Any]:
    """The episode's opening referral fact (version 1)."""
    return min(state["referrals"], key=lambda fact: fact["version"])


def episode_decision(state: State, rules: MeasureRules) -> Decision:
    """LBP-IMG from the episode's own events."""
    located = Located.of(state)
    opened: datetime = state["opened_at"]
    opening = located.ref(opening_fact(state), "opening", "referrals")

    def final(verdict: Verdict, *refs: dict[str, Any]) -> Decision:
        return Decision(LBP_IMG, verdict, opened, (opening, *refs))

    presentation = state.get("presentation")
    if presentation not in rules.lbp_presentations:
        reason = f"a {presentation} presentation is not uncomplicated low back pain"
        return final(Verdict(Status.NOT_ELIGIBLE, reason))
    band = state.get("age_band")
    if band is None:
        reason = "the opening referral records no age band"
        return final(Verdict(Status.NOT_ELIGIBLE, reason))
    if band not in rules.lbp_age_bands:
        return final(Verdict(Status.NOT_ELIGIBLE, f"age band {band} is outside 18-75"))
    window = rules.lbp_window_days
    standing = [
        run for run in flag_runs(state) if days_after(opened, run.start["at"]) <= window
    ]
    if standing:
        deficit = [
            run
            for run in standing
            if run.flag == rules.lbp_deficit_flag
            and presentation in rules.lbp_radicular
        ]
        first = (deficit or standing)[0]
        exclusion = "radicular_progressive_deficit" if deficit else "red_flag"
        reason = (
            f"{first.flag} stood from {on(first.start['at'])} "
            f"(v{first.start['version']}), within {window} days of opening"
        )
        refs = [
            located.ref(run.start, "red_flag", _flag_list(run.start))
            for run in (deficit or standing)
        ]
        return final(Verdict(Status.EXCLUDED, reason, exclusion), *_unique(refs))
    due = end_of_day(opened, window)
    pending = Verdict(
        Status.PENDING, f"the {window} days after opening end on {on(due)}"
    )
    imaging = [
        fact
        for fact in in_clinical_order(state["diagnostics"])
        if fact["kind"] in rules.lbp_imaging
        and days_after(opened, fact["at"]) <= window
    ]
    if imaging:
        first_image = imaging[0]
        reason = (
            f"{first_image['kind']} on {on(first_image['at'])} "
            f"(v{first_image['version']}), day {days_after(opened, first_image['at'])} "
            f"after opening: imaging within {window} days"
        )
        verdict = Verdict(Status.DENOMINATOR, reason)
        refs = [located.ref(fact, "imaging", "diagnostics") for fact in imaging]
        deciding = (opening, *refs)
        return Decision(LBP_IMG, verdict, opened, deciding, due_at=due, early=pending)
    verdict = Verdict(Status.NUMERATOR, f"no imaging within {window} days of opening")
    return Decision(LBP_IMG, verdict, opened, (opening,), due_at=due, early=pending)


def with_prior(
    decision: Decision,
    opened: datetime,
    earlier: Sequence[Mapping[str, Any]],
    rules: MeasureRules,
) -> Decision:
    """The decision once the patient's other episodes are known: not eligible if
    one opened before this one was still open in the 6 months before it.

    `earlier` holds each other episode's note (`opened_at`, `opening` ref,
    `closed_at`). The age and presentation criteria come first (the episode's own).
    """
    if decision.verdict.status is Status.NOT_ELIGIBLE:
        return decision
    since = months_before(opened.date(), rules.lbp_lookback_months)
    start = datetime.combine(since, time(), opened.tzinfo)
    prior = [
        note
        for note in earlier
        if note["opened_at"] < opened
        and (note["closed_at"] is None or note["closed_at"] >= start)
    ]
    if not prior:
        return decision
    latest = max(prior, key=lambda note: note["opened_at"])
    months = rules.lbp_lookback_months
    reason = (
        f"a prior episode of the patient, opened on {on(latest['opened_at'])}, "
        f"was open in the {months} months before this one"
    )
    opening = decision.deciding[0]
    prior_ref = {**latest["opening"], "role": "prior_episode"}
    return Decision(
        LBP_IMG,
        Verdict(Status.NOT_ELIGIBLE, reason),
        decision.anchor_at,
        (opening, prior_ref),
    )


def _flag_list(statement: Mapping[str, Any]) -> str:
    """The fact list a red flag's raising statement came from."""
    return "red_flags" if statement.get("source") == "referral" else "screenings"


def _unique(refs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[int] = set()
    found = []
    for entry in refs:
        if entry["version"] not in seen:
            seen.add(entry["version"])
            found.append(entry)
    return found
