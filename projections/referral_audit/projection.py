"""The referral-loop audit read model (DESIGN §5), rule set v2: projection version 3.

Each episode's state is its clinical facts (projections.clinical.facts). `handle`
only folds an event in; `settle`, once per key a batch touched, judges the
episode-wide rules (`rules_v2`) and replaces the episode's row and its
episode-scope finding rows, and turns the change in what the episode adds to the
summary into `Increment`s (`totals`). An episode with ESIs also tells its
patient's key ("patient:<id>", `patient`), whose settle judges R5 over all of
the patient's episodes. Nothing reads a clock: time-based findings carry their
deadline in `fires_at` and readers count them once their clock has passed it.
"""

from __future__ import annotations

from typing import Any

from domain import events as ev
from projections import erasure
from projections.base import (
    Change,
    Handled,
    Message,
    Projection,
    Put,
    Remove,
    State,
)
from projections.clinical.definitions import esis_of, in_clinical_order, on
from projections.clinical.facts import CLINICAL_EVENTS, recorded, starting
from projections.referral_audit import patient, totals
from projections.referral_audit.findings import Finding
from projections.referral_audit.journey import pathway
from projections.referral_audit.metrics_v2 import episode_metrics, horizons
from projections.referral_audit.rules_v2 import (
    RULES_V2,
    AuditRulesV2,
    Judged,
    evaluate_episode,
    surgery_referrals,
)
from projections.referral_audit.tables import (
    EPISODE_SCOPE,
    EPISODES,
    FINDINGS,
    REFERRERS,
    SURGEONS,
    finding_row,
)


class ReferralAuditProjection(Projection):
    """Rules R1-R11 (rule set v2) judged per episode, R5 per patient."""

    name = "referral_audit"
    # 3: rule set v2, the patient's key, the summary's maintained totals. Bump with
    # the rule set, the state's shape or a deployment's change of block profile:
    # the engine then rebuilds the audit from position 0 beside the serving one.
    version = 3
    tables = (
        EPISODES,
        FINDINGS,
        SURGEONS,
        REFERRERS,
        totals.COUNTERS,
        totals.DUES,
        totals.HISTOGRAM,
    )
    handles = CLINICAL_EVENTS
    settles = True

    def __init__(self, rules: AuditRulesV2 = RULES_V2) -> None:
        self.rules = rules

    def handle(
        self, state: State | None, event: ev.EpisodeEvent, position: int
    ) -> Handled:
        """The episode's facts after `event`; who referred it, to which surgeon."""
        if isinstance(event, ev.EpisodeErased):
            return self._erased(state, event)
        start = starting(state, event)
        if start is None:
            return Handled(state)  # already applied: a redelivery changes nothing
        state = start
        state = recorded(state, event, position)
        changes: list[Change] = []
        episode_id = state["episode_id"]
        if isinstance(event, ev.SurgeryReferred):
            row = {"episode_id": episode_id, "surgeon_id": event.surgeon.id}
            changes.append(Put(SURGEONS.name, row))
        if isinstance(event, ev.ReferralReceived):
            row = {"episode_id": episode_id, "referrer_id": event.referrer.id}
            changes.append(Put(REFERRERS.name, row))
        if (
            isinstance(event, ev.EventAmended)
            and event.amends_type == "SurgeryReferred"
        ):
            # A corrected surgeon: the episode's surgeons again, from its facts.
            changes.append(Remove(SURGEONS.name, {"episode_id": episode_id}))
            for surgeon in sorted(
                {r["surgeon_id"] for r in state["surgery_referrals"]}
            ):
                row = {"episode_id": episode_id, "surgeon_id": surgeon}
                changes.append(Put(SURGEONS.name, row))
        return Handled(state, changes)

    def _erased(self, state: State | None, event: ev.EpisodeErased) -> Handled:
        """The episode's rows removed, its share of the totals taken back, and its
        patient told to forget its ESIs."""
        if state is None:
            return erasure.erased(self.tables, event)
        episode_id = state["episode_id"]
        old = totals.loaded(state.get("contribution"))
        unmoved = dict.fromkeys(totals.MEDIANS)
        extra = [
            *totals.changes(episode_id, EPISODE_SCOPE, old, {}),
            *totals.histogram_changes(state.get("medians") or {}, unmoved),
        ]
        key = patient.patient_key(state["patient_id"])
        return erasure.erased(
            self.tables, event, extra, erasure.forget_note(key, state)
        )

    def settle(self, key: str, state: State | None) -> Handled:
        """An episode's rows and totals from its facts; a patient's R5."""
        if state is None:
            return Handled(state)
        if key.startswith(patient.PREFIX):
            return patient.settled(state, self.rules)
        return self._settle_episode(state)

    def receive(
        self, key: str, state: State | None, message: Message, position: int
    ) -> Handled:
        """A patient's state with one episode's ESIs."""
        return patient.received(key, state, message)

    def _settle_episode(self, state: State) -> Handled:
        rules = self.rules
        episode_id = state["episode_id"]
        findings = evaluate_episode(state, rules)
        judged = surgery_referrals(state, rules)
        metrics = episode_metrics(state, rules)
        row = episode_row(state, rules, judged, metrics)
        entries = episode_entries(state, findings, row, rules)
        old = totals.loaded(state.get("contribution"))
        changes: list[Change] = [
            Put(EPISODES.name, row),
            Remove(FINDINGS.name, {"episode_id": episode_id, "scope": EPISODE_SCOPE}),
            *(Put(FINDINGS.name, finding_row(row, f, EPISODE_SCOPE)) for f in findings),
            *totals.changes(episode_id, EPISODE_SCOPE, old, entries),
            *totals.histogram_changes(state.get("medians") or {}, metrics),
        ]
        messages = []
        sent = state.get("sent")
        esis = esis_of(state)
        if esis:
            sent = patient.note(state, esis, entries)
            if sent != state.get("sent"):
                key = patient.patient_key(state["patient_id"])
                messages.append(Message(key, sent))
        new_state = {
            **state,
            "contribution": totals.stored(entries),
            "medians": {m: metrics[m] for m in totals.MEDIANS},
            "sent": sent,
        }
        return Handled(new_state, changes, messages)


def episode_row(
    state: State, rules: AuditRulesV2, judged: list[Judged], metrics: dict[str, Any]
) -> dict[str, Any]:
    """The episode's row: pathway, each surgery referral with its exemption,
    metrics and the rule set that judged it."""
    surgeon_ids: list[str] = []
    for referral in in_clinical_order(state["surgery_referrals"]):
        if referral["surgeon_id"] not in surgeon_ids:
            surgeon_ids.append(referral["surgeon_id"])
    return {
        "episode_id": state["episode_id"],
        "patient_id": state["patient_id"],
        "referrer_id": state["referrer"]["id"],
        "referrer_role": state["referrer"]["role"],
        "opened_at": state["opened_at"],
        "status": "closed" if state["closed"] else "open",
        "pathway": pathway(state),
        "surgeon_ids": surgeon_ids,
        "surgery_referrals": [
            {
                "at_version": j.referral["version"],
                "occurred_on": on(j.referral["at"]),
                "surgeon_id": j.referral["surgeon_id"],
                "urgency": j.referral["urgency"],
                "intent": j.referral["intent"],
                "indication": j.referral["indication"],
                "red_flags": list(j.red_flags),
                "red_flag_exempt": j.exempt,
            }
            for j in judged
        ],
        "metrics": metrics,
        "rules_version": rules.version,
        "rules_profile": rules.profile,
        "red_flag_exempt": bool(judged) and all(j.exempt for j in judged),
        "version": state["version"],
        "position": state["position"],
    }


def episode_entries(
    state: State, findings: list[Finding], row: dict[str, Any], rules: AuditRulesV2
) -> totals.Entries:
    """What the episode adds to the summary's counters (see `totals`)."""
    entries = totals.add_findings({}, findings, row["referrer_id"])
    totals.count_episode(entries, "episodes")
    for referrer in sorted({r["referrer_id"] for r in state["referrals"]}):
        totals.count_episode(entries, f"referrer-episodes {referrer}")
    for surgeon in row["surgeon_ids"]:
        totals.count_episode(entries, f"surgeon-episodes {surgeon}")
    if row["red_flag_exempt"]:
        totals.count_episode(entries, "exempt")
    for key, horizon in horizons(rules).items():
        value = row["metrics"][key]
        if value is None:
            continue  # not eligible: no baseline, or not a radicular episode
        due = state["opened_at"] + horizon
        totals.count_episode(entries, f"share {key} eligible", due)
        if value:
            totals.count_episode(entries, f"share {key} met", due)
    return entries
