"""The quality measures read model (DESIGN §5): per episode and measure, the decision
and the events behind it.

Each episode's state is its clinical facts (projections.clinical.facts), its age
band and where each of its events sits in the global order. `handle` folds an
event in; `settle`, once per key a batch touched, decides FS-CHG and PROM-REG on
the episode and rewrites its episode-scope rows when they changed, and sends its
patient a note; the patient's `settle` decides LBP-IMG and ESI-RESP (`patient`).
Nothing reads a clock: a decision a window keeps open stores the instant it
closes, and readers judge it at their `now`.
"""

from __future__ import annotations

from domain import events as ev
from projections import erasure
from projections.base import Change, Handled, Message, Projection, Put, Remove, State
from projections.clinical.facts import CLINICAL_EVENTS, plain, recorded, starting
from projections.quality_measures import imaging, patient
from projections.quality_measures.function import fs_change
from projections.quality_measures.parameters import RULES_V1, MeasureRules
from projections.quality_measures.registry import registry_follow_up
from projections.quality_measures.tables import (
    DECISIONS,
    EPISODE_SCOPE,
    REFERRERS,
    decision_row,
)


class QualityMeasuresProjection(Projection):
    """LBP-IMG, FS-CHG, PROM-REG and ESI-RESP decided per episode and session."""

    name = "quality_measures"
    # Bump with the parameters' version or the state's shape: the engine then
    # rebuilds the read model from position 0 beside the serving one.
    version = 1
    tables = (DECISIONS, REFERRERS)
    handles = CLINICAL_EVENTS
    settles = True

    def __init__(self, rules: MeasureRules = RULES_V1) -> None:
        self.rules = rules

    def handle(
        self, state: State | None, event: ev.EpisodeEvent, position: int
    ) -> Handled:
        """The episode's facts after `event`, and where the event sits."""
        if isinstance(event, ev.EpisodeErased):
            key = patient.patient_key(state["patient_id"]) if state else ""
            return erasure.erased(
                self.tables, event, (), erasure.forget_note(key, state)
            )
        fresh = {
            "age_band": plain(getattr(event, "age_band", None)),
            "events": {},
            "rows": None,
            "sent": None,
        }
        start = starting(state, event, fresh)
        if start is None:
            return Handled(state)  # already applied: a redelivery changes nothing
        new_state = recorded(start, event, position)
        if isinstance(event, ev.EventAmended):
            # Deciding events name the amendment whose correction was read.
            amended = [event.originator_version, position]
            new_state["amended"] = {
                **start.get("amended", {}),
                str(event.amends_version): amended,
            }
            if event.amends_version == 1:
                # A corrected opening referral may correct the age band too.
                new_state["age_band"] = plain(event.corrected.get("age_band"))
        placed = [position, type(event).__name__]
        new_state["events"] = {
            **start["events"],
            str(event.originator_version): placed,
        }
        changes: list[Change] = []
        if isinstance(event, ev.ReferralReceived):
            row = {
                "episode_id": new_state["episode_id"],
                "referrer_id": event.referrer.id,
            }
            changes.append(Put(REFERRERS.name, row))
        return Handled(new_state, changes)

    def settle(self, key: str, state: State | None) -> Handled:
        """An episode's own decisions and its note to the patient; a patient's."""
        if state is None:
            return Handled(state)
        if key.startswith(patient.PREFIX):
            return patient.settled(state, self.rules)
        return self._settle_episode(state)

    def receive(
        self, key: str, state: State | None, message: Message, position: int
    ) -> Handled:
        """A patient's state with one episode's note."""
        return patient.received(key, state, message)

    def _settle_episode(self, state: State) -> Handled:
        rules = self.rules
        episode = patient.episode_of(state)
        decisions = (fs_change(state, rules), registry_follow_up(state, rules))
        rows = [decision_row(episode, d, EPISODE_SCOPE) for d in decisions]
        changes: list[Change] = []
        if rows != state["rows"]:
            match = {"episode_id": state["episode_id"], "scope": EPISODE_SCOPE}
            changes.append(Remove(DECISIONS.name, match))
            changes += [Put(DECISIONS.name, row) for row in rows]
        sent = patient.note(state, imaging.episode_decision(state, rules))
        messages = []
        if sent != state["sent"]:
            messages.append(Message(patient.patient_key(state["patient_id"]), sent))
        if not changes and not messages:
            return Handled(state)
        return Handled({**state, "rows": rows, "sent": sent}, changes, messages)
