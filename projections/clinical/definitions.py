"""The definitions of DOMAIN.md rule set v2, over an episode's clinical facts.

Every function is pure and reads clinical time (`occurred_at`, kept as `at`);
`version` breaks ties between facts of the same instant. Facts are those of
`projections.clinical.facts`.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from projections.base import State
from projections.clinical.parameters import Evidence, Mcid

Fact = dict[str, Any]
Moment = tuple[datetime, int]
"""A point in clinical time: (occurred_at, version)."""

MEDIAL_BRANCH_BLOCK = "medial_branch_block"
SI_JOINT_BLOCK = "si_joint_block"
ESI = "epidural_steroid_injection"
RELIEF = "relief_percent"
INJECTIONS = frozenset({ESI, "si_joint_injection", "facet_injection"})
# CMS L39240 counts ESI sessions per region group.
REGION_GROUPS = {
    "cervical": "cervical_thoracic",
    "thoracic": "cervical_thoracic",
    "lumbar": "lumbosacral",
    "sacroiliac": "lumbosacral",
}


def when(fact: Fact) -> Moment:
    """When a fact happened in the clinic (its version breaks ties)."""
    return fact["at"], fact["version"]


def in_clinical_order(facts: Iterable[Fact]) -> list[Fact]:
    """Facts sorted by clinical time, then version."""
    return sorted(facts, key=when)


def on(moment: datetime) -> str:
    """A clinical time as the date a reader sees in a sentence."""
    return moment.date().isoformat()


# -- time ----------------------------------------------------------------------------


def months_before(day: date, months: int) -> date:
    """The same day `months` calendar months earlier (6 months before 1 March is
    1 September); a day the earlier month lacks becomes its last day."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def months_after(day: date, months: int) -> date:
    """The same day `months` calendar months later (clamped like months_before)."""
    return months_before(day, -months)


def in_rolling_year(earlier: date, day: date, days: int = 365) -> bool:
    """Whether `earlier` is within the `days` days ending on `day` (both included)."""
    return day - timedelta(days=days - 1) <= earlier <= day


# -- pain generators ---------------------------------------------------------------


@dataclass(frozen=True)
class Identification:
    """A pain generator counted as identified: when, and the diagnostics it rests on."""

    generator: str
    at: datetime
    version: int
    evidence: tuple[int, ...]
    """Versions of the naming diagnostic and of the blocks or imaging behind it."""

    @property
    def moment(self) -> Moment:
        return self.at, self.version


def identifications(state: State, evidence: Evidence) -> list[Identification]:
    """Each pain generator with the first moment the evidence fits it, in clinical order.

    DOMAIN v2: a diagnostic names it and the evidence fits: facet needs the medial
    branch blocks the profile requires at the named levels; sacroiliac an SI joint
    block with >= 75 % relief; discogenic, radicular and stenosis an MRI or CT (or
    EMG/NCS for radicular) naming it; myofascial may rest on an examination;
    nonspecific never counts. A physical exam or X-ray alone identifies nothing else.
    """
    found: dict[str, Identification] = {}
    for candidate in every_identification(state, evidence):
        best = found.get(candidate.generator)
        if best is None or candidate.moment < best.moment:
            found[candidate.generator] = candidate
    return sorted(found.values(), key=lambda i: i.moment)


def every_identification(state: State, evidence: Evidence) -> list[Identification]:
    """One identification per diagnostic that names a generator the evidence fits,
    at the moment it fits (a later diagnostic may identify a generator again)."""
    diagnostics = in_clinical_order(state["diagnostics"])
    found = []
    for named in diagnostics:
        generator = named["generator"]
        if not generator or generator in evidence.never:
            continue
        support = _support(generator, named, diagnostics, evidence)
        if support is None:
            continue
        last = max([named, *support], key=when)
        found.append(
            Identification(
                generator,
                last["at"],
                last["version"],
                tuple(sorted({named["version"], *(s["version"] for s in support)})),
            )
        )
    return sorted(found, key=lambda i: i.moment)


def _support(
    generator: str, named: Fact, diagnostics: Sequence[Fact], evidence: Evidence
) -> list[Fact] | None:
    """The diagnostics that confirm a naming (empty: none needed); None: not yet."""
    if generator in evidence.named_suffices:
        return []
    if generator in evidence.confirmed_by:
        kinds = evidence.confirmed_by[generator]
        if named["kind"] in kinds:
            return []
        confirming = [
            d for d in diagnostics if d["kind"] in kinds and d["generator"] == generator
        ]
        return confirming[:1] or None
    if generator == "facet":
        profile = evidence.blocks
        blocks = [
            d
            for d in diagnostics
            if d["kind"] == MEDIAL_BRANCH_BLOCK
            and (d["relief"] or 0) >= profile.min_relief_percent
            and set(named["levels"]) <= set(d["levels"])
        ]
        needed = profile.blocks_required
        return blocks[:needed] if len(blocks) >= needed else None
    if generator == "sacroiliac":
        blocks = [
            d
            for d in diagnostics
            if d["kind"] == SI_JOINT_BLOCK
            and (d["relief"] or 0) >= evidence.si_block_min_relief
        ]
        return blocks[:1] or None
    return None


def identified_by(
    state: State, evidence: Evidence, moment: Moment
) -> list[Identification]:
    """The identifications made at or before `moment`."""
    return [i for i in identifications(state, evidence) if i.moment <= moment]


def identified_between(
    state: State, evidence: Evidence, after: Moment, until: Moment
) -> list[Identification]:
    """The identifications made after `after` and at or before `until`, a
    generator identified again in that span included."""
    return [
        i for i in every_identification(state, evidence) if after < i.moment <= until
    ]


# -- red flags -----------------------------------------------------------------------


@dataclass(frozen=True)
class FlagRun:
    """A red flag standing from the referral or screening that reported it until
    a screening that does not list it (None: it still stands)."""

    flag: str
    start: Fact
    end: Fact | None

    def stands_at(self, moment: Moment) -> bool:
        return when(self.start) <= moment and (
            self.end is None or when(self.end) > moment
        )


def flag_runs(state: State) -> list[FlagRun]:
    """Every stretch of clinical time a red flag stood (DOMAIN v2 "Red flag standing").

    A referral's flag is a suspicion that stands until a screening confirms it or
    rules it out; a screening reports the flags it lists and rules out the others.
    """
    statements = [
        {**fact, "flags": [fact["flag"]], "screening": False}
        for fact in state["red_flags"]
        if fact["source"] == "referral"
    ] + [{**fact, "screening": True} for fact in state["screenings"]]
    runs: list[FlagRun] = []
    open_runs: dict[str, Fact] = {}
    for statement in in_clinical_order(statements):
        listed = set(statement["flags"])
        for flag in listed:
            open_runs.setdefault(flag, statement)
        if statement["screening"]:
            for flag in [f for f in open_runs if f not in listed]:
                runs.append(FlagRun(flag, _fact(open_runs.pop(flag)), _fact(statement)))
    runs += [FlagRun(flag, _fact(start), None) for flag, start in open_runs.items()]
    return sorted(runs, key=lambda run: (when(run.start), run.flag))


def standing_flags(state: State, moment: Moment) -> set[str]:
    """The red flags standing at `moment`."""
    return {run.flag for run in flag_runs(state) if run.stands_at(moment)}


def _fact(statement: Fact) -> Fact:
    return {k: v for k, v in statement.items() if k not in ("screening", "flag")}


# -- conservative care ---------------------------------------------------------------


def documented_care_days(state: State, day: date) -> int:
    """Days of documented conservative care up to `day` (DOMAIN v2).

    The union of the courses' days, counted inclusively, each course from its
    start to the earliest of its end, the day it was recorded as happening and
    `day`: a planned end in the future documents nothing yet.
    """
    spans = []
    for course in state["conservative_care"]:
        ends = [course["at"].date(), day]
        if course["ended_on"] is not None:
            ends.append(course["ended_on"])
        end = min(ends)
        if end >= course["started_on"]:
            spans.append((course["started_on"], end))
    days, covered_to = 0, None
    for start, end in sorted(spans):
        if covered_to is not None:
            start = max(start, covered_to + timedelta(days=1))
        if end >= start:
            days += (end - start).days + 1
        covered_to = end if covered_to is None else max(covered_to, end)
    return days


# -- epidural steroid injections -----------------------------------------------------


@dataclass(frozen=True)
class Session:
    """The ESIs of one patient on one calendar date in one region group (CMS L39240)."""

    group: str
    day: date
    esis: tuple[Fact, ...]
    """In clinical order; the first is where the session shows in an episode."""

    @property
    def first(self) -> Fact:
        return self.esis[0]


def esi_sessions(esis: Iterable[Fact]) -> list[Session]:
    """ESIs grouped into sessions, in clinical order, whatever their levels."""
    grouped: dict[tuple[date, str], list[Fact]] = {}
    for esi in in_clinical_order(esis):
        key = (esi["at"].date(), REGION_GROUPS[esi["region"]])
        grouped.setdefault(key, []).append(esi)
    sessions = [
        Session(group, day, tuple(facts)) for (day, group), facts in grouped.items()
    ]
    return sorted(sessions, key=lambda s: when(s.first))


def esis_of(state: State) -> list[Fact]:
    """The episode's epidural steroid injections, in clinical order."""
    return in_clinical_order(f for f in state["interventions"] if f["procedure"] == ESI)


# -- outcomes ------------------------------------------------------------------------


def first_treatment(state: State) -> Fact | None:
    """The first intervention or biologic in clinical time."""
    treatments = in_clinical_order(state["interventions"] + state["biologics"])
    return treatments[0] if treatments else None


def baselines(state: State) -> dict[str, Fact]:
    """Each instrument's baseline: its first score before any intervention or
    biologic (relief is measured against a treatment, so it has none)."""
    cut = first_treatment(state)
    found: dict[str, Fact] = {}
    for fact in in_clinical_order(state["outcomes"]):
        if fact["instrument"] == RELIEF:
            continue
        if cut is not None and when(fact) >= when(cut):
            break
        found.setdefault(fact["instrument"], fact)
    return found


def reference_scores(state: State) -> dict[str, Fact]:
    """Each instrument's reference for a trend: its baseline, else its first score."""
    found = baselines(state)
    for fact in in_clinical_order(state["outcomes"]):
        if fact["instrument"] != RELIEF:
            found.setdefault(fact["instrument"], fact)
    return found


def improved(baseline: Decimal, score: Decimal, mcid: Mcid) -> bool:
    """Whether `score` improved on `baseline` by the MCID, in points or percent."""
    change = score - baseline if mcid.higher_is_better else baseline - score
    if change >= mcid.points:
        return True
    return (
        mcid.percent is not None
        and baseline > 0
        and change * 100 >= mcid.percent * baseline
    )


def worsened(baseline: Decimal, score: Decimal, mcid: Mcid) -> bool:
    """Whether `score` is worse than `baseline` by the MCID."""
    flipped = Mcid(mcid.points, mcid.percent, not mcid.higher_is_better)
    return improved(baseline, score, flipped)


def latest_outcome_by(state: State, until: datetime) -> Fact | None:
    """The latest outcome, of any instrument, recorded at or before `until`."""
    facts = [f for f in in_clinical_order(state["outcomes"]) if f["at"] <= until]
    return facts[-1] if facts else None


def meaningful_change_by(
    state: State, until: datetime, mcid: dict[str, Mcid] | Any, responder: int
) -> bool | None:
    """Whether the latest outcome by `until` is meaningfully better than its
    instrument's baseline (relief >= `responder` % counts); None without a baseline."""
    found = baselines(state)
    if not found:
        return None
    latest = latest_outcome_by(state, until)
    if latest is None:
        return False
    if latest["instrument"] == RELIEF:
        return Decimal(latest["score"]) >= responder
    baseline = found.get(latest["instrument"])
    if baseline is None or baseline["version"] == latest["version"]:
        return False
    return improved(
        Decimal(baseline["score"]), Decimal(latest["score"]), mcid[latest["instrument"]]
    )


def outcomes_following(state: State, versions: Iterable[int]) -> list[Fact]:
    """Outcomes whose follows_version names one of these treatments."""
    wanted = set(versions)
    return in_clinical_order(f for f in state["outcomes"] if f["follows"] in wanted)


def relief_after(
    state: State, treatments: Sequence[Fact], until: Moment
) -> Decimal | None:
    """The best pain relief (percent) measured after these treatments by `until`.

    Relief is a relief_percent score following them, or the fall of an NRS pain
    score following them from the last NRS before the first of them; function
    scores (ODI, PROMIS) are not relief.
    """
    start = min(when(t) for t in treatments)
    before = [
        f
        for f in in_clinical_order(state["outcomes"])
        if f["instrument"] == "nrs_pain" and when(f) < start
    ]
    baseline = Decimal(before[-1]["score"]) if before else None
    reliefs = []
    for fact in outcomes_following(state, (t["version"] for t in treatments)):
        if when(fact) > until:
            continue
        if fact["instrument"] == RELIEF:
            reliefs.append(Decimal(fact["score"]))
        elif fact["instrument"] == "nrs_pain" and baseline:
            reliefs.append((baseline - Decimal(fact["score"])) * 100 / baseline)
    return max(reliefs, default=None)
