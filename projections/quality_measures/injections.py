"""ESI-RESP: repeat ESIs with a documented response (CMS L39240, Choosing Wisely).

The unit is an ESI session (DOMAIN v2: one patient, one calendar date, one
region group), judged across all of the patient's episodes, as CMS limits are
per patient. A session after an earlier one of its group gets a decision:
not eligible when that previous session is more than 12 months (365 days)
earlier; otherwise in the denominator, and in the numerator when the previous
session's relief (a relief_percent score following it, or the fall of an NRS
following it from the last NRS before it, as `clinical.definitions.relief_after`
measures it) reached 50 % before the repeat. First sessions get no decision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

from projections.clinical.definitions import (
    RELIEF,
    Moment,
    Session,
    esi_sessions,
    in_clinical_order,
    in_rolling_year,
    when,
)
from projections.quality_measures.decisions import Decision, Status, Verdict, ref
from projections.quality_measures.parameters import ESI_RESP, MeasureRules

Fact = dict[str, Any]


def esi_responses(
    notes: Mapping[str, Mapping[str, Any]], rules: MeasureRules
) -> list[Decision]:
    """ESI-RESP for every repeated session of one patient.

    `notes` maps each episode to its note: `esis` and `outcomes` facts, each
    with its `episode_id`, `position` and `type`.
    """
    esis = [esi for note in notes.values() for esi in note["esis"]]
    decisions = []
    previous: dict[str, Session] = {}
    for session in esi_sessions(esis):
        before = previous.get(session.group)
        previous[session.group] = session
        if before is not None:
            decisions.append(_decided(session, before, notes, rules))
    return decisions


def _decided(
    session: Session,
    before: Session,
    notes: Mapping[str, Mapping[str, Any]],
    rules: MeasureRules,
) -> Decision:
    first = session.first
    refs = [note_ref(first, "repeat"), note_ref(before.first, "previous_session")]
    repeat = f"ESI session on {session.day.isoformat()} repeats the one of "
    repeat += before.day.isoformat()

    def decided(verdict: Verdict, *more: Fact) -> Decision:
        return Decision(
            ESI_RESP,
            verdict,
            first["at"],
            (*refs, *more),
            subject=f"{session.group} {session.day.isoformat()}",
            episode_id=first["episode_id"],
        )

    if not in_rolling_year(before.day, session.day, rules.esi_repeat_days):
        gap = (session.day - before.day).days
        reason = f"{repeat}, {gap} days earlier: not within 12 months"
        return decided(Verdict(Status.NOT_ELIGIBLE, reason))
    found = best_relief(notes, before.esis, first)
    if found is None:
        reason = f"{repeat}, with no relief recorded after it before the repeat"
        return decided(Verdict(Status.DENOMINATOR, reason))
    relief, fact = found
    measured = f"{repeat}, which gave {relief:.0f} % relief"
    relief_ref = note_ref(fact, "relief")
    if relief >= rules.responder_relief_percent:
        verdict = Verdict(Status.NUMERATOR, f"{measured} before the repeat")
    else:
        verdict = Verdict(
            Status.DENOMINATOR,
            f"{measured} (a responder reports at least "
            f"{rules.responder_relief_percent} %)",
        )
    return decided(verdict, relief_ref)


def best_relief(
    notes: Mapping[str, Mapping[str, Any]], treatments: Sequence[Fact], repeat: Fact
) -> tuple[Decimal, Fact] | None:
    """The best relief measured after these ESIs before `repeat`, with its outcome."""
    found: list[tuple[Decimal, Moment, Fact]] = []
    for episode_id in sorted({t["episode_id"] for t in treatments}):
        mine = [t for t in treatments if t["episode_id"] == episode_id]
        outcomes = notes[episode_id]["outcomes"]
        # Versions order events within one episode only: across episodes an
        # outcome counts when it happened before the repeat's instant.
        until = (
            when(repeat)
            if repeat["episode_id"] == episode_id
            else (repeat["at"] - timedelta(microseconds=1), 2**62)
        )
        for relief, fact in reliefs_after(outcomes, mine, until):
            found.append((relief, when(fact), fact))
    if not found:
        return None
    relief, _, fact = max(found, key=lambda item: (item[0], item[1]))
    return relief, fact


def reliefs_after(
    outcomes: Sequence[Fact], treatments: Sequence[Fact], until: Moment
) -> list[tuple[Decimal, Fact]]:
    """Each relief measured after treatments of one episode by `until`, with its
    outcome: the same measure as `clinical.definitions.relief_after`."""
    start = min(when(t) for t in treatments)
    versions = {t["version"] for t in treatments}
    before = [
        f
        for f in in_clinical_order(outcomes)
        if f["instrument"] == "nrs_pain" and when(f) < start
    ]
    baseline = Decimal(before[-1]["score"]) if before else None
    found = []
    for fact in in_clinical_order(outcomes):
        if fact["follows"] not in versions or when(fact) > until:
            continue
        if fact["instrument"] == RELIEF:
            found.append((Decimal(fact["score"]), fact))
        elif fact["instrument"] == "nrs_pain" and baseline:
            drop = (baseline - Decimal(fact["score"])) * 100 / baseline
            found.append((drop, fact))
    return found


def note_ref(fact: Mapping[str, Any], role: str) -> Fact:
    """The deciding-event entry of a fact a note carries (it knows its place)."""
    return ref(
        fact["episode_id"],
        fact["version"],
        fact.get("position"),
        fact["type"],
        role,
        fact["at"],
        fact.get("amended_by"),
    )
