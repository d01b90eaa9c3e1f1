"""Demo data: realistic care episodes through the domain, reproducible from a seed.

Each episode follows one of the pathways DOMAIN.md describes: the flipped
pipeline (diagnostics first, a regenerative option, outcomes measured), the
broken one (surgeon, insurer-mandated injections, back to the surgeon), a red
flag escalated in hours, conservative care that resolves, an injection
responder, a patient lost to follow-up, and late recording (an event entered
after later ones). Episodes open over the past `span_days`; events that would
fall after now are not recorded yet, so recent episodes are still open.
The same seed and anchor give the same episodes.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain import commands as cmd
from domain.application import DECISIONS, CareEpisodes
from domain.episode import CareEpisode
from domain.values import Actor, Envelope, PrincipalRole

LOADER = Actor("demo-loader", PrincipalRole.SERVICE)
PRIMARY_CARE = [(f"dr-pc-{n}", f"Dr Primary {n}", "primary_care") for n in range(1, 9)]
CONCIERGE = [(f"dr-cg-{n}", f"Dr Concierge {n}", "concierge") for n in range(1, 3)]
SURGEONS = [(f"dr-ss-{n}", f"Dr Surgeon {n}") for n in range(1, 5)]
PAIN = [(f"dr-pm-{n}", f"Dr Pain {n}", "pain_medicine") for n in range(1, 4)]
EMERGENCY = ("dr-ed-1", "Dr Emergency", "emergency")
CLINICIANS = [(f"clin-{n}", f"Clinician {n}") for n in range(1, 7)]
PATHWAYS = (
    ("flipped", 30),
    ("broken_pipeline", 20),
    ("conservative", 15),
    ("injection_responder", 12),
    ("lost_to_follow_up", 10),
    ("late_recording", 8),
    ("red_flag", 5),
)

JITTER = timedelta(hours=8)
"""How far after its slot in the span an episode may open."""
Step = tuple[float, type[cmd.Command], dict[str, Any]]
"""(days after opening, command, fields)."""


@dataclass(frozen=True)
class Plan:
    """One demo episode: its id, when it opened, and its steps."""

    episode_id: UUID
    pathway: str
    opened_at: datetime
    steps: list[Step]


def plans(
    count: int, seed: int, anchor: datetime | None = None, span_days: int = 540
) -> Iterator[Plan]:
    """`count` demo episodes, oldest first, the same for the same seed and anchor."""
    rng = random.Random(seed)
    anchor = anchor or datetime.combine(datetime.now(UTC).date(), time(8), UTC)
    names, weights = zip(*PATHWAYS, strict=True)
    patients: list[str] = []
    for n in range(count):
        opened = anchor - timedelta(days=span_days * (1 - n / max(count, 1)))
        opened += timedelta(minutes=rng.randrange(0, JITTER // timedelta(minutes=1)))
        # About one patient in eight comes back with a second episode.
        if patients and rng.random() < 0.12:
            patient = rng.choice(patients)
        else:
            patient = f"pt-{seed:03d}-{n:06d}"
            patients.append(patient)
        pathway = rng.choices(names, weights)[0]
        steps = _PATHWAYS[pathway](rng, patient, opened)
        yield Plan(UUID(int=rng.getrandbits(128), version=4), pathway, opened, steps)


def load(
    episodes: CareEpisodes,
    count: int,
    seed: int,
    *,
    anchor: datetime | None = None,
    chunk: int = 200,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[int, int]:
    """Record `count` demo episodes, about `chunk` events per transaction, in the
    order `decided` gives; (episodes, events)."""
    done = events = 0
    for batch, done in decided(plans(count, seed, anchor), datetime.now(UTC), chunk):
        events += _save(episodes, batch)
        if on_progress is not None:
            on_progress(done, count)
    return done, events


def decided(
    plans: Iterable[Plan], now: datetime, chunk: int = 200
) -> Iterator[tuple[list[CareEpisode], int]]:
    """The plans' episodes decided step by step in the order a practice would
    have entered the steps, across episodes: each time up to `chunk` events are
    pending (fewer when an episode pending would take a second one), the
    episodes holding them and how many plans are complete.

    So a store holds many episodes in flight, as a real one does, rather than
    each episode's events side by side. Every command goes through the
    aggregate's rules.
    """
    envelope = Envelope(LOADER, now)
    in_flight: dict[UUID, CareEpisode] = {}
    # Each holds one pending event: a second would close the transaction first.
    unsaved: dict[UUID, CareEpisode] = {}
    done = 0
    for plan, index, last in _entered(iter(plans), now):
        if len(unsaved) >= chunk or plan.episode_id in unsaved:
            # A transaction stores each episode's events side by side: one more
            # of an episode it holds would come before others entered earlier.
            yield list(unsaved.values()), done
            unsaved.clear()
        days, command_type, fields = plan.steps[index]
        if index == 0:
            opening = cmd.OpenEpisode(occurred_at=plan.opened_at, **fields)
            episode = CareEpisode.open(plan.episode_id, envelope, opening)
        else:
            episode = in_flight.pop(plan.episode_id)
            assert issubclass(command_type, cmd.EpisodeCommand)
            when = plan.opened_at + timedelta(days=days)
            command = command_type(
                episode_id=plan.episode_id, occurred_at=when, **fields
            )
            DECISIONS[command_type](episode, envelope, command)
        if last:
            done += 1
        else:
            in_flight[plan.episode_id] = episode
        unsaved[plan.episode_id] = episode
    if unsaved:
        yield list(unsaved.values()), done


def _entered(plans: Iterator[Plan], now: datetime) -> Iterator[tuple[Plan, int, bool]]:
    """Every step to record, as (plan, step index, whether it is the plan's last),
    in the order they were entered.

    A step is entered at its own time, or at its predecessor's entry if that is
    later (a late entry); a step after `now` has not happened, and stops its
    plan there (so every later step's follows_version points where it should).
    Plans come oldest first, each at most `JITTER` after its slot, so none still
    to come opens before the newest one taken less `JITTER`: plans are taken
    only that far ahead, and only the episodes open around the moment reached
    are held.
    """
    heap: list[tuple[datetime, int, int, Plan]] = []
    numbers = itertools.count()
    newest: datetime | None = None
    exhausted = False
    while True:
        while not exhausted and (
            not heap or newest is None or heap[0][0] >= newest - JITTER
        ):
            plan = next(plans, None)
            if plan is None:
                exhausted = True
            else:
                newest = plan.opened_at
                heapq.heappush(heap, (plan.opened_at, next(numbers), 0, plan))
        if not heap:
            return
        entered, number, index, plan = heapq.heappop(heap)
        following = index + 1
        when = None
        if following < len(plan.steps):
            when = plan.opened_at + timedelta(days=plan.steps[following][0])
        if when is not None and when <= now:
            heapq.heappush(heap, (max(when, entered), number, following, plan))
            yield plan, index, False
        else:
            yield plan, index, True


def _save(episodes: CareEpisodes, aggregates: list[CareEpisode]) -> int:
    pending = sum(len(a.pending_events) for a in aggregates)
    episodes.record(*aggregates)
    return pending


# -- pathways -----------------------------------------------------------------------


def _referrer(rng: random.Random, concierge_share: float = 0.15) -> dict[str, str]:
    pool = CONCIERGE if rng.random() < concierge_share else PRIMARY_CARE
    doctor, name, role = rng.choice(pool)
    return {"id": doctor, "name": name, "role": role}


def _opening(
    rng: random.Random, patient: str, opened: datetime, **overrides: Any
) -> Step:
    presentation = rng.choice(
        ["axial", "radicular", "radicular", "mixed", "claudication"]
    )
    fields = {
        "patient_id": patient,
        "referrer": _referrer(rng),
        "receiving_service": "pain_medicine",
        "reason": f"{presentation} low back pain for {rng.randint(5, 30)} weeks",
        "presentation": presentation,
        "symptom_onset": (opened - timedelta(weeks=rng.randint(5, 30))).date(),
        "insurance_mandated": False,
        "red_flags": [],
        **overrides,
    }
    return (0, cmd.OpenEpisode, fields)


def _outcome(
    instrument: str, score: float, follows: int | None = None
) -> dict[str, Any]:
    return {
        "instrument": instrument,
        "score": Decimal(str(round(score))),
        "follows_version": follows,
    }


def _screen(flags: list[str] | None = None) -> dict[str, Any]:
    disposition = "emergency_referral" if flags else "none"
    return {"flags": flags or [], "disposition": disposition}


def _assign(rng: random.Random) -> dict[str, str]:
    clinician, name = rng.choice(CLINICIANS)
    return {"clinician_id": clinician, "clinician_name": name}


def _note(to: str, text: str) -> dict[str, str]:
    return {"to_physician_id": to, "summary": text}


def _mri(generator: str | None, levels: list[str]) -> dict[str, Any]:
    return {
        "kind": "mri",
        "region": "lumbar",
        "levels": levels,
        "findings": f"findings at {', '.join(levels)}",
        "pain_generator": generator,
    }


def _block(relief: int, levels: list[str]) -> dict[str, Any]:
    return {
        "kind": "medial_branch_block",
        "region": "lumbar",
        "levels": levels,
        "relief_percent": relief,
        "findings": f"{relief}% relief for 6 hours",
        "pain_generator": "facet",
    }


def _esi(levels: list[str]) -> dict[str, Any]:
    return {
        "procedure": "epidural_steroid_injection",
        "region": "lumbar",
        "levels": levels,
        "side": "left",
        "image_guided": True,
    }


def _course(opened: datetime, start: float, weeks: int) -> dict[str, Any]:
    begin = (opened + timedelta(days=start)).date()
    return {
        "modality": "physical_therapy",
        "started_on": begin,
        "ended_on": begin + timedelta(weeks=weeks),
        "sessions": weeks * 2,
        "response": "improved",
    }


def _flipped(rng: random.Random, patient: str, opened: datetime) -> list[Step]:
    opening = _opening(rng, patient, opened, presentation="axial")
    referrer = opening[2]["referrer"]["id"]
    odi = rng.randint(38, 60)
    levels = ["L4-L5"]
    steps: list[Step] = [
        opening,
        (0.1, cmd.AssignClinician, _assign(rng)),
        (0.5, cmd.ScreenRedFlags, _screen()),
        (1, cmd.RecordOutcome, _outcome("odi", odi)),
        (4, cmd.RecordDiagnostic, _mri("facet", levels)),
        (11, cmd.RecordDiagnostic, _block(rng.randint(80, 95), levels)),
        (18, cmd.RecordDiagnostic, _block(rng.randint(80, 95), levels)),
        (
            19,
            cmd.SendConsultNote,
            _note(referrer, "facet pain confirmed by two blocks"),
        ),
    ]
    plan = {
        "items": [{"kind": "biologic", "detail": "PRP to the L4-L5 facet joints"}],
        "goals": "ODI below 20 and back to work",
        "regenerative_option": "recommended",
    }
    steps.append((20, cmd.PlanTreatment, plan))
    prp = {
        "product": rng.choice(["prp", "platelet_lysate", "bone_marrow_concentrate"]),
        "target": "L4-L5 facet joints",
        "levels": levels,
        "volume_ml": Decimal("4.5"),
        "lot_number": f"LOT-{rng.randint(10000, 99999)}",
        "image_guided": True,
    }
    steps.append((25, cmd.AdministerBiologic, prp))
    biologic = len(steps)
    for day, fall in ((14, 4), (42, 12), (90, 18), (180, 22)):
        score = max(odi - fall - rng.randint(-3, 3), 0)
        steps.append((25 + day, cmd.RecordOutcome, _outcome("odi", score, biologic)))
    steps.append((210, cmd.CloseEpisode, {"reason": "resolved"}))
    return steps


def _broken(rng: random.Random, patient: str, opened: datetime) -> list[Step]:
    opening = _opening(
        rng, patient, opened, receiving_service="spine_surgery", insurance_mandated=True
    )
    surgeon_id, surgeon_name = rng.choice(SURGEONS)
    referral_back = {
        "referrer": {"id": surgeon_id, "name": surgeon_name, "role": "spine_surgery"},
        "receiving_service": "pain_medicine",
        "reason": "insurer requires epidural injections before surgery",
    }
    steps: list[Step] = [opening, (6, cmd.ReceiveReferral, referral_back)]
    day = 13
    for _ in range(rng.randint(2, 4)):
        steps.append((day, cmd.PerformIntervention, _esi(["L5-S1"])))
        day += rng.randint(21, 35)
    doctor, name, role = rng.choice(PAIN)
    referral_on = {
        "referrer": {"id": doctor, "name": name, "role": role},
        "receiving_service": "spine_surgery",
        "reason": "the injections wore off",
    }
    steps.append((day, cmd.ReceiveReferral, referral_on))
    surgery = {
        "surgeon": {"id": surgeon_id, "name": surgeon_name},
        "urgency": "elective",
        "intent": "fusion",
        "indication": "failed_conservative_care",
        "justification": "pain persists after epidural injections",
    }
    steps.append((day + 3, cmd.ReferToSurgery, surgery))
    steps.append((day + 40, cmd.CloseEpisode, {"reason": "surgery"}))
    return steps


def _conservative(rng: random.Random, patient: str, opened: datetime) -> list[Step]:
    opening = _opening(rng, patient, opened, receiving_service="physical_therapy")
    referrer = opening[2]["referrer"]["id"]
    nrs = rng.randint(6, 8)
    steps: list[Step] = [
        opening,
        (1, cmd.ScreenRedFlags, _screen()),
        (1, cmd.RecordOutcome, _outcome("nrs_pain", nrs)),
        (2, cmd.RecordConservativeCare, _course(opened, 2, rng.randint(6, 10))),
    ]
    care = len(steps)
    steps.append((9, cmd.SendConsultNote, _note(referrer, "physiotherapy started")))
    steps.append((60, cmd.RecordOutcome, _outcome("nrs_pain", max(nrs - 4, 0), care)))
    steps.append((95, cmd.CloseEpisode, {"reason": "resolved"}))
    return steps


def _responder(rng: random.Random, patient: str, opened: datetime) -> list[Step]:
    opening = _opening(rng, patient, opened, presentation="radicular")
    referrer = opening[2]["referrer"]["id"]
    steps: list[Step] = [
        opening,
        (0.5, cmd.ScreenRedFlags, _screen()),
        (1, cmd.RecordOutcome, _outcome("nrs_pain", rng.randint(6, 9))),
        (3, cmd.RecordDiagnostic, _mri("radicular", ["L5-S1"])),
        (8, cmd.SendConsultNote, _note(referrer, "L5-S1 radiculopathy on MRI")),
        (10, cmd.PerformIntervention, _esi(["L5-S1"])),
    ]
    esi = len(steps)
    steps.append(
        (24, cmd.RecordOutcome, _outcome("relief_percent", rng.randint(55, 85), esi))
    )
    steps.append((52, cmd.RecordOutcome, _outcome("nrs_pain", rng.randint(1, 3), esi)))
    return steps


def _lost(rng: random.Random, patient: str, opened: datetime) -> list[Step]:
    opening = _opening(rng, patient, opened)
    steps: list[Step] = [
        opening,
        (2, cmd.ScreenRedFlags, _screen()),
        (5, cmd.RecordConservativeCare, _course(opened, 5, 2)),
        (120, cmd.CloseEpisode, {"reason": "lost_to_follow_up"}),
    ]
    return steps


def _late(rng: random.Random, patient: str, opened: datetime) -> list[Step]:
    # The flipped pathway up to its blocks, the MRI of day 4 entered only after
    # the block of day 11 (steps are recorded in list order, at their own days).
    steps = _flipped(rng, patient, opened)[:7]
    steps[4], steps[5] = steps[5], steps[4]
    return steps


def _red_flag(rng: random.Random, patient: str, opened: datetime) -> list[Step]:
    doctor, name, role = EMERGENCY
    opening = _opening(
        rng, patient, opened,
        referrer={"id": doctor, "name": name, "role": role},
        receiving_service="spine_surgery", red_flags=["cauda_equina"],
        presentation="radicular",
    )  # fmt: skip
    surgeon_id, surgeon_name = rng.choice(SURGEONS)
    surgery = {
        "surgeon": {"id": surgeon_id, "name": surgeon_name},
        "urgency": "emergent",
        "intent": "decompression",
        "indication": "red_flag",
        "justification": "cauda equina syndrome: emergency decompression",
    }
    return [
        opening,
        (0.02, cmd.ScreenRedFlags, _screen(["cauda_equina"])),
        (0.05, cmd.RecordDiagnostic, _mri("radicular", ["L4-L5"])),
        (0.1, cmd.ReferToSurgery, surgery),
        (3, cmd.CloseEpisode, {"reason": "surgery"}),
    ]


_PATHWAYS: dict[str, Callable[[random.Random, str, datetime], list[Step]]] = {
    "flipped": _flipped,
    "broken_pipeline": _broken,
    "conservative": _conservative,
    "injection_responder": _responder,
    "lost_to_follow_up": _lost,
    "late_recording": _late,
    "red_flag": _red_flag,
}


def anchor_on(day: date) -> datetime:
    """The anchor of a demo made as if on `day` (08:00 UTC)."""
    return datetime.combine(day, time(8), UTC)
