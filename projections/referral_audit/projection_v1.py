"""Rule set v1 of the referral-loop audit as a projection (version 2), kept for replays.

The deployment runs `projection.ReferralAuditProjection` (rule set v2); this one
stays importable so episodes can be judged under either rules version.

`ReferralAuditProjectionV1` keeps each episode's clinical facts as its state. After
every event it re-evaluates rules R1-R10 (DOMAIN.md) on them and replaces the
episode's row and all of its finding rows, so a later event that answers a
finding removes it. Nothing here reads a clock: time-based findings carry the
deadline in `fires_at`, and readers count them once their clock has passed it
(SQL: `fires_at IS NULL OR fires_at <= :now`; in memory: `is_due`).

Readers of its rows: `summary.audit_row` and `summary.summarize` (the view uses
them while a v1 generation still serves during the rebuild to v2).
"""

from __future__ import annotations

from typing import Any

from domain import events as ev
from projections.base import (
    Change,
    Column,
    Handled,
    Projection,
    Put,
    Remove,
    State,
    Table,
)
from projections.clinical.facts import CLINICAL_EVENTS, recorded, starting
from projections.referral_audit.facts import in_clinical_order
from projections.referral_audit.findings import (
    Finding,
)
from projections.referral_audit.journey import pathway
from projections.referral_audit.metrics import episode_metrics
from projections.referral_audit.parameters import (
    RULES_V1,
    AuditRules,
)
from projections.referral_audit.rules import evaluate, red_flag_exempt
from projections.referral_audit.tables import REFERRERS, SURGEONS

EPISODES = Table(
    name="episodes",
    columns=(
        Column("episode_id", "text", nullable=False),
        Column("patient_id", "text", nullable=False),
        Column("referrer_id", "text", nullable=False),
        Column("referrer_role", "text", nullable=False),
        Column("opened_at", "timestamp", nullable=False),
        Column("status", "text", nullable=False),
        Column("pathway", "json", nullable=False),
        Column("surgeon_ids", "json", nullable=False),
        Column("metrics", "json", nullable=False),
        Column("rules_version", "integer", nullable=False),
        Column("rules_profile", "text", nullable=False),
        Column("red_flag_exempt", "boolean", nullable=False),
        Column("version", "integer", nullable=False),
        Column("position", "integer", nullable=False),
    ),
    key=("episode_id",),
    # Keyset paging walks (opened_at, episode_id); the referrer filter needs its own.
    indexes=(("opened_at", "episode_id"), ("referrer_id",)),
)

FINDINGS = Table(
    name="findings",
    columns=(
        Column("episode_id", "text", nullable=False),
        Column("rule", "text", nullable=False),
        Column("at_version", "integer", nullable=False),
        Column("subject", "text", nullable=False),
        Column("name", "text", nullable=False),
        Column("severity", "text", nullable=False),
        Column("detail", "text", nullable=False),
        Column("occurred_at", "timestamp", nullable=False),
        Column("fires_at", "timestamp"),
        Column("surgeon_id", "text"),
        # Denormalised from the episode so list filters need no join.
        Column("referrer_id", "text", nullable=False),
        Column("opened_at", "timestamp", nullable=False),
    ),
    key=("episode_id", "rule", "at_version", "subject"),
    indexes=(
        ("rule", "episode_id"),
        ("severity", "episode_id"),
        ("referrer_id", "episode_id"),
        ("opened_at", "episode_id"),
        ("fires_at",),
    ),
)


class ReferralAuditProjectionV1(Projection):
    """Rules R1-R10 (rule set v1) re-evaluated on each episode after every event."""

    name = "referral_audit"
    # Bump with the rule set's version, the state's shape (2: screenings kept,
    # states keyed by `state_key`) or when a deployment changes profile: the
    # engine then rebuilds the audit from position 0 beside the serving one.
    version = 2
    tables = (EPISODES, FINDINGS, SURGEONS, REFERRERS)
    handles = CLINICAL_EVENTS

    def __init__(self, rules: AuditRules = RULES_V1) -> None:
        self.rules = rules

    def handle(
        self, state: State | None, event: ev.EpisodeEvent, position: int
    ) -> Handled:
        """The episode's facts after `event`, its row and its re-evaluated findings."""
        start = starting(state, event)
        if start is None:
            return Handled(state)  # already applied: a redelivery changes nothing
        state = start
        state = recorded(state, event, position)
        return Handled(state, self._changes(state, event))

    def _changes(self, state: State, event: ev.EpisodeEvent) -> list[Change]:
        episode_id = state["episode_id"]
        findings = evaluate(state, self.rules)
        changes: list[Change] = [
            Put(EPISODES.name, episode_row(state, self.rules)),
            Remove(FINDINGS.name, {"episode_id": episode_id}),
            *(Put(FINDINGS.name, finding_row(state, f)) for f in findings),
        ]
        if isinstance(event, ev.SurgeryReferred):
            row = {"episode_id": episode_id, "surgeon_id": event.surgeon.id}
            changes.append(Put(SURGEONS.name, row))
        if isinstance(event, ev.ReferralReceived):
            row = {"episode_id": episode_id, "referrer_id": event.referrer.id}
            changes.append(Put(REFERRERS.name, row))
        return changes


def episode_row(state: State, rules: AuditRules) -> dict[str, Any]:
    """The episode's row: pathway, surgeons, metrics and the rule set that judged it."""
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
        "metrics": episode_metrics(state, rules),
        "rules_version": rules.version,
        "rules_profile": rules.profile,
        "red_flag_exempt": red_flag_exempt(state, rules),
        "version": state["version"],
        "position": state["position"],
    }


def finding_row(state: State, finding: Finding) -> dict[str, Any]:
    """One finding's row, with the episode columns the list filters need."""
    return {
        "episode_id": state["episode_id"],
        "rule": finding.rule,
        "at_version": finding.at_version,
        "subject": finding.subject,
        "name": finding.name,
        "severity": finding.severity.value,
        "detail": finding.detail,
        "occurred_at": finding.occurred_at,
        "fires_at": finding.fires_at,
        "surgeon_id": finding.surgeon_id,
        "referrer_id": state["referrer"]["id"],
        "opened_at": state["opened_at"],
    }
