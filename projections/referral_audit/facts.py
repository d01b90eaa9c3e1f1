"""Clinical facts the audit derives from an episode's state, always in clinical time."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from domain.values import Instrument, Procedure
from projections.base import State
from projections.referral_audit.journey import (
    PAIN_MEDICINE,
    SPINE_SURGERY,
    Step,
    journey,
)
from projections.referral_audit.parameters import AuditRules

Fact = dict[str, Any]

ESI = Procedure.EPIDURAL_STEROID_INJECTION.value
RFA = Procedure.RADIOFREQUENCY_ABLATION.value


def in_clinical_order(facts: Iterable[Fact]) -> list[Fact]:
    """Facts sorted by when they happened in the clinic (version breaks ties)."""
    return sorted(facts, key=lambda fact: (fact["at"], fact["version"]))


def on(moment: datetime) -> str:
    """A clinical time as the date a reader sees in a finding's detail."""
    return moment.date().isoformat()


# -- pathway (the journey itself is shared with rule set v2: journey.py) ---------


def loop_before(state: State, referral: Fact) -> tuple[Step, Step] | None:
    """A spine-surgery step, then a pain-medicine step, both before `referral` (R1)."""
    cut = (referral["at"], referral["version"], 1)
    before = [step for step in journey(state) if step[:3] < cut]
    for surgeon in (step for step in before if step.service == SPINE_SURGERY):
        for pain in (step for step in before if step.service == PAIN_MEDICINE):
            if pain > surgeon:
                return surgeon, pain
    return None


# -- diagnostics ------------------------------------------------------------------


def imaging(state: State, rules: AuditRules) -> list[Fact]:
    """Imaging studies (MRI, CT, X-ray) in clinical order."""
    return in_clinical_order(
        fact for fact in state["diagnostics"] if fact["kind"] in rules.imaging_kinds
    )


def positive_blocks(state: State, rules: AuditRules, kind: str) -> list[Fact]:
    """Diagnostic blocks of `kind` that gave the relief the active profile asks for."""
    return in_clinical_order(
        fact
        for fact in state["diagnostics"]
        if fact["kind"] == kind
        and fact["relief"] is not None
        and fact["relief"] >= rules.blocks.min_relief_percent
    )


def identified_generators(state: State, rules: AuditRules) -> list[Fact]:
    """Each pain generator with when it counts as identified, in clinical order.

    DOMAIN "Pain generator": a diagnostic naming it identifies it, except where a
    positive block is needed (facet, sacroiliac): then it is identified once the
    profile's positive blocks exist, at the later of the naming and the last
    needed block. So a facet generator named on an MRI alone is not identified.
    """
    first_named: dict[str, Fact] = {}
    for fact in in_clinical_order(state["diagnostics"]):
        generator = fact["generator"]
        if generator and generator not in rules.generators_not_identified:
            first_named.setdefault(generator, fact)
    identified = []
    for generator, named in first_named.items():
        evidence = named
        block_kind = rules.generators_needing_blocks.get(generator)
        if block_kind is not None:
            blocks = positive_blocks(state, rules, block_kind)
            if len(blocks) < rules.blocks.blocks_required:
                continue
            evidence = max(named, blocks[rules.blocks.blocks_required - 1], key=_when)
        identified.append({**_stamp(evidence), "generator": generator})
    return in_clinical_order(identified)


def generators_identified_by(
    state: State, rules: AuditRules, moment: datetime
) -> list[str]:
    """The pain generators identified at or before `moment`."""
    return [
        fact["generator"]
        for fact in identified_generators(state, rules)
        if fact["at"] <= moment
    ]


# -- treatments -------------------------------------------------------------------


def conservative_care_days(state: State, until: date | None = None) -> int:
    """Days of documented conservative care before `until`; overlaps count once.

    A course documents care from started_on to ended_on, never past the day it was
    recorded: an open-ended course (or one with a planned end) counts up to that day.
    """
    spans = []
    for course in state["conservative_care"]:
        recorded_on = course["at"].date()
        end = min(course["ended_on"] or recorded_on, recorded_on)
        if until is not None:
            end = min(end, until)
        if end > course["started_on"]:
            spans.append((course["started_on"], end))
    days, covered_to = 0, None
    for start, end in sorted(spans):
        start = start if covered_to is None else max(start, covered_to)
        if end > start:
            days += (end - start).days
            covered_to = end
    return days


def interventions_by(state: State, moment: datetime | None = None) -> list[Fact]:
    """Interventions (injections, RFA) done at or before `moment`, in clinical order."""
    return in_clinical_order(
        fact
        for fact in state["interventions"]
        if moment is None or fact["at"] <= moment
    )


def esis(state: State) -> list[Fact]:
    """Epidural steroid injections in clinical order."""
    return [fact for fact in interventions_by(state) if fact["procedure"] == ESI]


def regenerative_door_opened_by(
    state: State, rules: AuditRules, moment: datetime
) -> bool:
    """Whether a plan offered a regenerative option, or a biologic was given."""
    planned = any(
        plan["at"] <= moment and plan["regenerative_option"] in rules.regenerative_doors
        for plan in state["plans"]
    )
    return planned or any(fact["at"] <= moment for fact in state["biologics"])


def red_flags_found(state: State) -> dict[str, Fact]:
    """Each red flag with the referral or screen that first reported it."""
    found: dict[str, Fact] = {}
    for fact in in_clinical_order(state["red_flags"]):
        found.setdefault(fact["flag"], fact)
    return found


# -- outcomes ---------------------------------------------------------------------


def outcomes_following(state: State, version: int) -> list[Fact]:
    """Outcomes whose follows_version names the treatment at `version`."""
    return in_clinical_order(
        fact for fact in state["outcomes"] if fact["follows"] == version
    )


def baseline_before(
    state: State, treatment: Fact, instrument: str | None = None
) -> Fact | None:
    """The latest outcome (of `instrument`, if given) at or before a treatment."""
    before = [
        fact
        for fact in in_clinical_order(state["outcomes"])
        if fact["at"] <= treatment["at"]
        and fact["follows"] != treatment["version"]
        and instrument in (None, fact["instrument"])
    ]
    return before[-1] if before else None


def best_relief(state: State, treatment: Fact, until: datetime) -> Decimal | None:
    """The best pain relief in percent measured after a treatment by `until`.

    Relief is a relief_percent score, or the fall of an NRS pain score from the
    last NRS before the treatment; function scores (ODI, PROMIS) are not relief.
    """
    nrs = Instrument.NRS_PAIN.value
    baseline = baseline_before(state, treatment, nrs)
    reliefs = []
    for fact in outcomes_following(state, treatment["version"]):
        if fact["at"] > until:
            continue
        if fact["instrument"] == Instrument.RELIEF_PERCENT.value:
            reliefs.append(Decimal(fact["score"]))
        elif fact["instrument"] == nrs and baseline and baseline["score"] > 0:
            fall = Decimal(baseline["score"]) - Decimal(fact["score"])
            reliefs.append(fall * 100 / Decimal(baseline["score"]))
    return max(reliefs, default=None)


def _when(fact: Fact) -> tuple[datetime, int]:
    return fact["at"], fact["version"]


def _stamp(fact: Fact) -> Fact:
    return {"version": fact["version"], "at": fact["at"]}
