"""The measures that look across a patient's episodes, judged on the patient's key.

LBP-IMG needs the patient's other episodes (no prior episode in the 6 months
before) and ESI-RESP the patient's earlier ESI sessions, wherever recorded.
Each episode sends its patient ("patient:<id>") a note: when it opened and
closed, its own LBP-IMG decision, and (if it has ESIs) its ESIs and the
outcomes that measure them. The patient's `settle` decides both measures for
every one of its episodes and rewrites the patient-scope rows of those whose
rows changed.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from projections.base import Change, Handled, Message, Put, Remove, State
from projections.clinical.definitions import RELIEF, esis_of
from projections.erasure import ERASED
from projections.quality_measures import imaging
from projections.quality_measures.decisions import Decision, Located
from projections.quality_measures.injections import esi_responses
from projections.quality_measures.parameters import MeasureRules
from projections.quality_measures.tables import (
    DECISIONS,
    PATIENT_SCOPE,
    decision_row,
)

PREFIX = "patient:"
RELIEF_INSTRUMENTS = frozenset({RELIEF, "nrs_pain"})


def patient_key(patient_id: str) -> str:
    """The state key of a patient."""
    return f"{PREFIX}{patient_id}"


def episode_of(state: State) -> dict[str, Any]:
    """What a decision row says of the episode that holds it."""
    return {
        "episode_id": state["episode_id"],
        "patient_id": state["patient_id"],
        "referrer_id": state["referrer"]["id"],
        "opened_at": state["opened_at"],
    }


def note(state: State, lbp: Decision) -> dict[str, Any]:
    """What an episode tells its patient (a pure function of its state)."""
    located = Located.of(state)
    opening = lbp.deciding[0]
    closed = state["closed"]
    esis = [_placed(located, fact, "interventions") for fact in esis_of(state)]
    outcomes = (
        [
            _placed(located, fact, "outcomes")
            for fact in state["outcomes"]
            if fact["instrument"] in RELIEF_INSTRUMENTS
        ]
        if esis
        else []
    )
    return {
        **episode_of(state),
        "opening": opening,
        "closed_at": closed["at"] if closed else None,
        "lbp": lbp.stored(),
        "esis": esis,
        "outcomes": outcomes,
    }


def received(key: str, state: State | None, message: Message) -> Handled:
    """The patient's state with one episode's latest note."""
    state = state or {
        "patient_id": key.removeprefix(PREFIX),
        "episodes": {},
        "written": {},
    }
    episodes = {**state["episodes"], message.data["episode_id"]: dict(message.data)}
    if message.data.get(ERASED):
        del episodes[message.data["episode_id"]]
        if not episodes:  # every episode erased: the patient goes too
            return Handled(None)
    return Handled({**state, "episodes": episodes})


def settled(state: State, rules: MeasureRules) -> Handled:
    """LBP-IMG and ESI-RESP for each of the patient's episodes; the rows that changed."""
    notes: dict[str, dict[str, Any]] = state["episodes"]
    sessions: dict[str, list[Decision]] = defaultdict(list)
    for decision in esi_responses(notes, rules):
        assert decision.episode_id is not None
        sessions[decision.episode_id].append(decision)
    changes: list[Change] = []
    written: dict[str, list[dict[str, Any]]] = {}
    for episode_id, mine in sorted(notes.items()):
        others = [n for other, n in notes.items() if other != episode_id]
        lbp = imaging.with_prior(
            Decision.loaded(mine["lbp"]), mine["opened_at"], others, rules
        )
        rows = [
            decision_row(mine, decision, PATIENT_SCOPE)
            for decision in (lbp, *sessions.get(episode_id, ()))
        ]
        written[episode_id] = rows
        if rows != state["written"].get(episode_id):
            match = {"episode_id": episode_id, "scope": PATIENT_SCOPE}
            changes.append(Remove(DECISIONS.name, match))
            changes += [Put(DECISIONS.name, row) for row in rows]
    return Handled({**state, "written": written}, changes)


def _placed(located: Located, fact: dict[str, Any], kind: str) -> dict[str, Any]:
    """A fact with the episode, global position and type of its event."""
    where = located.ref(fact, "", kind)
    return {
        **fact,
        "episode_id": where["episode_id"],
        "position": where["position"],
        "type": where["type"],
        "amended_by": where["amended_by"],
    }
