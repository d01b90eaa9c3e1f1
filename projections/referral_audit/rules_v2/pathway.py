"""R1 (rule set v2): the latest surgeon -> pain medicine loop before a surgery
referral, on the journey both rule sets share (journey.py)."""

from __future__ import annotations

from projections.base import State
from projections.clinical.definitions import Fact
from projections.referral_audit.journey import (
    PAIN_MEDICINE,
    SPINE_SURGERY,
    Step,
    journey,
)


def latest_loop_before(state: State, referral: Fact) -> tuple[Step, Step] | None:
    """R1 v2: the latest spine-surgery step before `referral` that has a
    pain-medicine step after it (also before the referral), with that step."""
    cut = (referral["at"], referral["version"], 1)
    before = [step for step in journey(state) if tuple(step[:3]) < cut]
    for index in range(len(before) - 1, -1, -1):
        surgeon = before[index]
        if surgeon.service != SPINE_SURGERY:
            continue
        pain = next(
            (s for s in before[index + 1 :] if s.service == PAIN_MEDICINE), None
        )
        if pain is not None:
            return surgeon, pain
    return None
