"""Episodes for the audit benchmark: a realistic mix of DOMAIN.md's pathways.

Built through the domain (each command decided by the aggregate, as the API
would), at clinical times spread over the two years before now; 300 referrers
and 30 surgeons whatever the number of episodes; about 1 in 7 episodes is a
patient's second.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from domain import commands as cmd
from domain.application import DECISIONS, CareEpisodes
from domain.episode import CareEpisode
from domain.values import Actor, Envelope, PrincipalRole

ACTOR = Actor("svc-bench", PrincipalRole.SERVICE)
REFERRERS = [
    {"id": f"dr-pc-{n:03d}", "name": f"Dr {n}", "role": role}
    for n, role in (
        (n, "concierge" if n % 10 == 0 else "primary_care") for n in range(300)
    )
]
SURGEONS = [{"id": f"dr-ss-{n:02d}", "name": f"Surgeon {n}"} for n in range(30)]
PATHWAYS = (
    ("flipped", 30),
    ("conservative", 25),
    ("loop", 20),
    ("esi_series", 15),
    ("red_flag", 5),
    ("infection", 2),
    ("closed_for_surgery", 3),
)


class Builder:
    """One episode decided through the domain, at clinical times after it opened."""

    def __init__(self, rng: random.Random, now: datetime, patient: str) -> None:
        self.rng, self.now = rng, now
        self.opened = now - timedelta(days=rng.uniform(20, 760))
        self.referrer = rng.choice(REFERRERS)
        self.episode: CareEpisode | None = None
        self.patient = patient

    def open(self, service: str, presentation: str, **extra: Any) -> Builder:
        body = {
            "patient_id": self.patient,
            "referrer": self.referrer,
            "receiving_service": service,
            "reason": "low back pain",
            "presentation": presentation,
            "symptom_onset": (self.opened - timedelta(days=60)).date(),
            "insurance_mandated": self.rng.random() < 0.3,
            "red_flags": [],
            **extra,
        }
        opening = cmd.OpenEpisode(occurred_at=self.opened, **body)
        self.episode = CareEpisode.open(
            uuid.uuid4(), Envelope(ACTOR, self.now), opening
        )
        return self

    def at(self, days: float) -> datetime | None:
        moment = self.opened + timedelta(days=days)
        return moment if moment < self.now - timedelta(hours=1) else None

    def do(
        self, command_type: type[cmd.EpisodeCommand], days: float, **body: Any
    ) -> int | None:
        """Decide a command `days` after opening (skipped if that is still ahead)."""
        moment = self.at(days)
        if moment is None or self.episode is None:
            return None
        command = command_type(episode_id=self.episode.id, occurred_at=moment, **body)
        DECISIONS[command_type](self.episode, Envelope(ACTOR, self.now), command)
        return self.episode.version

    def outcome(
        self,
        days: float,
        score: float,
        follows: int | None = None,
        instrument: str = "odi",
    ) -> None:
        value = Decimal(
            max(0, min(100 if instrument != "nrs_pain" else 10, round(score)))
        )
        self.do(
            cmd.RecordOutcome,
            days,
            instrument=instrument,
            score=value,
            follows_version=follows,
        )

    def note(self, days: float) -> None:
        self.do(
            cmd.SendConsultNote,
            days,
            to_physician_id=self.referrer["id"],
            summary="seen",
        )

    def esi(self, days: float, levels: int = 1) -> int | None:
        first = None
        for level in range(levels):
            version = self.do(
                cmd.PerformIntervention, days + level / 24,
                procedure="epidural_steroid_injection", region="lumbar",
                levels=[("L4-L5", "L5-S1")[level]], side="left", image_guided=True,
            )  # fmt: skip
            first = first or version
        return first

    def diagnostic(
        self, days: float, kind: str, generator: str | None, relief: int | None = None
    ) -> None:
        self.do(
            cmd.RecordDiagnostic, days, kind=kind, region="lumbar", levels=["L4-L5"],
            relief_percent=relief, findings="bench", pain_generator=generator,
        )  # fmt: skip

    def care(self, days: float, weeks: int) -> None:
        start = (self.opened + timedelta(days=days)).date()
        self.do(
            cmd.RecordConservativeCare, days + weeks * 7, modality="physical_therapy",
            started_on=start, ended_on=start + timedelta(weeks=weeks), sessions=12,
            response="improved",
        )  # fmt: skip

    def refer(
        self,
        days: float,
        urgency: str = "elective",
        indication: str = "failed_conservative_care",
    ) -> None:
        self.do(
            cmd.ReferToSurgery, days, surgeon=self.rng.choice(SURGEONS), urgency=urgency,
            intent="decompression" if urgency != "elective" else "fusion",
            indication=indication, justification="persistent pain after treatment",
        )  # fmt: skip


def build_episode(rng: random.Random, now: datetime, patient: str) -> CareEpisode:
    """One episode of a pathway drawn by the weights of PATHWAYS."""
    pathway = rng.choices([p for p, _ in PATHWAYS], [w for _, w in PATHWAYS])[0]
    e = Builder(rng, now, patient)
    r = rng.random
    if pathway == "flipped":
        e.open("pain_medicine", "axial")
        e.do(cmd.ScreenRedFlags, 1, flags=[], disposition="none")
        e.outcome(2, rng.uniform(30, 60))
        e.diagnostic(5, "mri", None)
        e.diagnostic(12, "medial_branch_block", "facet", rng.choice([70, 85, 90]))
        e.diagnostic(19, "medial_branch_block", "facet", rng.choice([85, 90]))
        e.do(cmd.PlanTreatment, 21, items=[{"kind": "biologic", "detail": "PRP"}],
             goals="ODI below 20", regenerative_option="recommended")  # fmt: skip
        e.note(rng.choice([10, 20, 30]))
        prp = e.do(cmd.AdministerBiologic, 28, product="prp", target="L4-L5 facets",
                   levels=["L4-L5"], volume_ml=Decimal("4.5"), lot_number="PRP-1",
                   image_guided=True)  # fmt: skip
        if r() < 0.8:
            e.outcome(28 + rng.uniform(35, 60), rng.uniform(10, 40), prp)
    elif pathway == "conservative":
        e.open("pain_medicine", rng.choice(["axial", "radicular", "mixed"]))
        e.do(cmd.ScreenRedFlags, 1, flags=[], disposition="none")
        baseline = rng.uniform(25, 70)
        e.outcome(2, baseline)
        e.care(3, rng.choice([4, 6, 8]))
        e.outcome(85, baseline - rng.uniform(-5, 25))
        e.outcome(175, baseline - rng.uniform(-10, 25))
        if r() < 0.7:
            e.note(rng.uniform(5, 25))
        if r() < 0.5:
            e.do(cmd.CloseEpisode, 200, reason="resolved")
    elif pathway == "loop":
        e.open("spine_surgery", "radicular", insurance_mandated=True)
        e.do(cmd.ReceiveReferral, 7, referrer={"id": "dr-ss-00", "name": "S", "role": "spine_surgery"},
             receiving_service="pain_medicine", reason="ESIs first")  # fmt: skip
        if r() < 0.5:
            e.outcome(8, rng.uniform(40, 70))
        for n in range(rng.randint(1, 3)):
            version = e.esi(14 + 30 * n, levels=rng.choice([1, 2]))
            if r() < 0.5 and version:
                e.outcome(
                    14 + 30 * n + 25, rng.uniform(20, 60), version, "relief_percent"
                )
        if r() < 0.4:
            e.diagnostic(100, "mri", rng.choice(["radicular", None]))
        e.refer(rng.uniform(95, 140))
        if r() < 0.5:
            e.note(rng.uniform(5, 40))
    elif pathway == "esi_series":
        e.open("pain_medicine", "radicular")
        e.outcome(1, rng.uniform(50, 80))
        e.diagnostic(3, "mri", "radicular")
        e.note(10)
        for n in range(rng.randint(1, 4)):
            version = e.esi(20 + 70 * n)
            if version:
                e.outcome(
                    20 + 70 * n + 42, rng.uniform(30, 80), version, "relief_percent"
                )
    elif pathway == "red_flag":
        e.open("emergency", "radicular", red_flags=["cauda_equina"],
               referrer={"id": "dr-ed-1", "name": "ED", "role": "emergency"})  # fmt: skip
        e.do(
            cmd.ScreenRedFlags,
            0.01,
            flags=["cauda_equina"],
            disposition="emergency_referral",
        )
        e.refer(rng.uniform(1, 6) / 24, urgency="emergent", indication="red_flag")
    elif pathway == "infection":
        e.open("spine_surgery", "axial")
        e.do(cmd.ScreenRedFlags, 1, flags=["infection"], disposition="urgent_imaging")
        e.diagnostic(1 + rng.uniform(1, 8) / 24, rng.choice(["mri", "xray"]), None)
    else:
        e.open("spine_surgery", "radicular")
        e.note(5)
        e.do(cmd.CloseEpisode, 30, reason="surgery")
    assert e.episode is not None
    return e.episode


def seed(app: CareEpisodes, episodes: int, seed_value: int = 12) -> None:
    """`episodes` episodes, saved in groups; about 1 in 7 is a patient's second."""
    rng = random.Random(seed_value)
    now = datetime.now(UTC)
    patients: list[str] = []
    pending: list[CareEpisode] = []
    for n in range(episodes):
        if patients and rng.random() < 0.15:
            patient = rng.choice(patients)
        else:
            patient = f"pt-{n:07d}"
            patients.append(patient)
        pending.append(build_episode(rng, now, patient))
        if len(pending) == 250:
            app.save(*pending)
            pending.clear()
    if pending:
        app.save(*pending)
