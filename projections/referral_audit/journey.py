"""The services an episode visited, in clinical order: R1 and the audit row's
pathway, the same in rule sets v1 and v2."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from domain.values import DiagnosticKind, Service
from projections.base import State
from projections.clinical.definitions import Fact, Moment

SERVICES = frozenset(service.value for service in Service)
BLOCKS = frozenset(kind.value for kind in DiagnosticKind if kind.is_block)
SPINE_SURGERY = Service.SPINE_SURGERY.value
PAIN_MEDICINE = Service.PAIN_MEDICINE.value


class Step(NamedTuple):
    """A service the patient met; `order` 0 (a referrer) precedes the event's own."""

    at: datetime
    version: int
    order: int
    service: str

    @property
    def moment(self) -> Moment:
        return self.at, self.version


def journey(state: State) -> list[Step]:
    """Every service the patient met, in clinical order.

    A referring service counts as met (the patient was with it), an intervention or
    diagnostic block counts as pain medicine (DOMAIN R1 "or an ESI / block"), and a
    surgery referral as spine surgery.
    """
    steps = []
    for referral in state["referrals"]:
        if referral["referrer_role"] in SERVICES:
            steps.append(step_of(referral, referral["referrer_role"], order=0))
        steps.append(step_of(referral, referral["service"]))
    steps += [step_of(fact, PAIN_MEDICINE) for fact in state["interventions"]]
    steps += [
        step_of(fact, PAIN_MEDICINE)
        for fact in state["diagnostics"]
        if fact["kind"] in BLOCKS
    ]
    steps += [step_of(fact, SPINE_SURGERY) for fact in state["surgery_referrals"]]
    return sorted(steps)


def pathway(state: State) -> list[str]:
    """The services visited in order, a stay at one service shown once."""
    services: list[str] = []
    for step in journey(state):
        if not services or services[-1] != step.service:
            services.append(step.service)
    return services


def step_of(fact: Fact, service: str, order: int = 1) -> Step:
    return Step(fact["at"], fact["version"], order, service)
