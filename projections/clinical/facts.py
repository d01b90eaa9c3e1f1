"""The clinical facts of an episode, kept per episode by the read models that reason
about its pathway (audit, feed, worklist, quality measures).

Each fact is a dict with the event's `version` and clinical time `at`
(occurred_at), appended in arrival order. Clinics record late, so arrival order is
not clinical order: the rules sort facts by (at, version) before reasoning.
Enum members are kept as their values so the state is plain JSON plus
datetimes, dates and Decimals.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any

from domain import events as ev
from domain.amendments import corrected_event
from projections.base import State

Facts = dict[str, list[dict[str, Any]]]

FACT_LISTS = (
    "referrals",
    "red_flags",
    "screenings",
    "diagnostics",
    "conservative_care",
    "plans",
    "interventions",
    "biologics",
    "outcomes",
    "surgery_referrals",
    "consult_notes",
)


def plain(value: Any) -> Any:
    """An enum member as its value; anything else as itself."""
    return value.value if isinstance(value, Enum) else value


def opened_state(event: ev.ReferralReceived) -> State:
    """The state of an episode before its first event: who, when, and empty facts."""
    return {
        "episode_id": str(event.originator_id),
        "patient_id": event.patient_id,
        "referrer": {"id": event.referrer.id, "role": plain(event.referrer.role)},
        "opened_at": event.occurred_at,
        "presentation": plain(event.presentation),
        "insurance_mandated": bool(event.insurance_mandated),
        "closed": None,
        "version": 0,
        "position": 0,
        **{name: [] for name in FACT_LISTS},
    }


def starting(
    state: State | None,
    event: ev.EpisodeEvent,
    fresh: Mapping[str, Any] | None = None,
) -> State | None:
    """The state `event` applies to: for an episode's first event its opened state
    (with `fresh`'s fields of the read model's own), else the stored one; None when
    the event was applied already (a redelivery changes nothing)."""
    if state is None:
        if not isinstance(event, ev.ReferralReceived) or event.originator_version != 1:
            msg = (
                f"episode {event.originator_id} has no opening referral before "
                f"{type(event).__name__} at version {event.originator_version}"
            )
            raise ValueError(msg)
        return {**opened_state(event), **(fresh or {})}
    if event.originator_version <= state["version"]:
        return None
    return state


def recorded(state: State, event: ev.EpisodeEvent, position: int) -> State:
    """The state after `event`, its facts appended; `state` itself is untouched.

    An event with no clinical fact (an assignment) only moves the version. An
    amendment replaces the facts of the event it corrects with the corrected
    event's (the rules then judge the episode as corrected).
    """
    if isinstance(event, ev.EventAmended):
        return _corrected(state, event, position)
    new_state = {**state, "version": event.originator_version, "position": position}
    stamp = {"version": event.originator_version, "at": event.occurred_at}
    if isinstance(event, ev.EpisodeClosed):
        new_state["closed"] = {**stamp, "reason": plain(event.reason)}
        return new_state
    facts_of = _FACTS.get(type(event))
    if facts_of is None:
        return new_state
    for name, facts in facts_of(event).items():
        # .get: states stored before a list existed (a rebuild fills it in).
        new_state[name] = [*state.get(name, ()), *({**stamp, **fact} for fact in facts)]
    return new_state


def _corrected(state: State, event: ev.EventAmended, position: int) -> State:
    """The state with the amended event's facts replaced by its corrected ones."""
    version = event.amends_version
    stripped = {
        **state,
        **{
            name: [f for f in state.get(name, ()) if f["version"] != version]
            for name in FACT_LISTS
        },
    }
    closed = state.get("closed")
    if closed is not None and closed["version"] == version:
        stripped["closed"] = None
    corrected = corrected_event(event)
    if version == 1:
        assert isinstance(corrected, ev.ReferralReceived)
        opened = opened_state(corrected)
        for name in ("referrer", "opened_at", "presentation", "insurance_mandated"):
            stripped[name] = opened[name]
    new_state = recorded(stripped, corrected, position)
    new_state["version"] = event.originator_version
    return new_state


def _referral(event: ev.ReferralReceived) -> Facts:
    return {
        "referrals": [
            {
                "service": plain(event.receiving_service),
                "referrer_id": event.referrer.id,
                "referrer_role": plain(event.referrer.role),
            }
        ],
        "red_flags": [
            {"flag": plain(flag), "source": "referral"} for flag in event.red_flags
        ],
    }


def _screen(event: ev.RedFlagsScreened) -> Facts:
    # A screening speaks of every flag: those it lists stand, the others are ruled
    # out (DOMAIN v2 "Red flag standing"), so it is kept even when it lists none.
    flags = [plain(flag) for flag in event.flags]
    return {
        "red_flags": [{"flag": flag, "source": "screening"} for flag in flags],
        "screenings": [{"flags": flags, "disposition": plain(event.disposition)}],
    }


def _diagnostic(event: ev.DiagnosticCompleted) -> Facts:
    fact = {
        "kind": plain(event.kind),
        "region": plain(event.region),
        "levels": list(event.levels),
        "relief": event.relief_percent,
        "generator": plain(event.pain_generator),
    }
    return {"diagnostics": [fact]}


def _conservative_care(event: ev.ConservativeCareRecorded) -> Facts:
    fact = {
        "modality": plain(event.modality),
        "started_on": event.started_on,
        "ended_on": event.ended_on,
    }
    return {"conservative_care": [fact]}


def _plan(event: ev.TreatmentPlanned) -> Facts:
    return {"plans": [{"regenerative_option": plain(event.regenerative_option)}]}


def _intervention(event: ev.InterventionPerformed) -> Facts:
    fact = {
        "procedure": plain(event.procedure),
        "region": plain(event.region),
        "levels": list(event.levels),
    }
    return {"interventions": [fact]}


def _biologic(event: ev.BiologicAdministered) -> Facts:
    fact = {"product": plain(event.product), "levels": list(event.levels)}
    return {"biologics": [fact]}


def _outcome(event: ev.OutcomeRecorded) -> Facts:
    fact = {
        "instrument": plain(event.instrument),
        "score": event.score,
        "follows": event.follows_version,
    }
    return {"outcomes": [fact]}


def _surgery_referral(event: ev.SurgeryReferred) -> Facts:
    fact = {
        "surgeon_id": event.surgeon.id,
        "urgency": plain(event.urgency),
        "intent": plain(event.intent),
        "indication": plain(event.indication),
    }
    return {"surgery_referrals": [fact]}


def _consult_note(event: ev.ConsultNoteSent) -> Facts:
    return {"consult_notes": [{"to": event.to_physician_id}]}


_FACTS: dict[type[ev.EpisodeEvent], Callable[[Any], Facts]] = {
    ev.ReferralReceived: _referral,
    ev.RedFlagsScreened: _screen,
    ev.DiagnosticCompleted: _diagnostic,
    ev.ConservativeCareRecorded: _conservative_care,
    ev.TreatmentPlanned: _plan,
    ev.InterventionPerformed: _intervention,
    ev.BiologicAdministered: _biologic,
    ev.OutcomeRecorded: _outcome,
    ev.SurgeryReferred: _surgery_referral,
    ev.ConsultNoteSent: _consult_note,
}

# Every event type with clinical facts; ClinicianAssigned changes none. An
# amendment changes the facts of the event it corrects; an erasure removes the
# episode from every read model (`projections.erasure`).
CLINICAL_EVENTS: tuple[type[ev.EpisodeEvent], ...] = (
    *_FACTS,
    ev.EpisodeClosed,
    ev.EventAmended,
    ev.EpisodeErased,
)
