"""Replays of the referral-loop audit: how it judged an episode at any version or
instant, under any rule set, and when each of its findings appeared or cleared.

The rules are pure functions of the events, so a replay is a fold, not a store:
the projection the deployment runs (`ReferralAuditProjection`, or rule set v1's
`ReferralAuditProjectionV1`) runs in memory over the patient's events up to a
cut, and its rows are read as the view reads them. The patient's other episodes
are folded too (R5 counts the patient's sessions), each up to the same global
position, so a replay at version N is what the projection held once it had
processed that version.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.errors import EpisodeNotFound
from domain.events import EpisodeEvent
from projections.base import Change, Handled, Projection, Put, Remove, State
from projections.referral_audit import report
from projections.referral_audit import summary as v1_summary
from projections.referral_audit.parameters import AuditRules, audit_rules
from projections.referral_audit.projection import ReferralAuditProjection
from projections.referral_audit.projection_v1 import ReferralAuditProjectionV1
from projections.referral_audit.rules_v2 import RULES_V2, AuditRulesV2
from projections.referral_audit.tables import EPISODES, FINDINGS

RuleSet = AuditRules | AuditRulesV2
Events = Iterable[tuple[int, EpisodeEvent]]
"""(global position, event) pairs in global order."""
Row = dict[str, Any]
FINDING_KEY = ("rule", "at_version", "subject", "scope")
FINDING_FIELDS = report.FINDING_FIELDS


def replay_rules(
    version: int | None = None,
    profile: str | None = None,
    *,
    default: RuleSet = RULES_V2,
) -> RuleSet:
    """The rule set a replay judges by: `default` (the deployment's) unless another
    rules version (1, 2) or block profile (payer, nhs) is named; ValueError if
    either is unknown."""
    version = default.version if version is None else version
    profile = default.profile if profile is None else profile
    if (version, profile) == (default.version, default.profile):
        return default
    if version == 1:
        return audit_rules(profile, version=1)
    if version == 2:
        return audit_rules(profile, version=2)
    raise ValueError(f"rules version {version!r} is not one of: 1, 2")


def audit_projection(rules: RuleSet) -> Projection:
    """The audit projection of `rules`' rule set, configured with them."""
    if isinstance(rules, AuditRulesV2):
        return ReferralAuditProjection(rules)
    return ReferralAuditProjectionV1(rules)


@dataclass(frozen=True)
class Cut:
    """Which recorded events a replay folds: those up to one version of the
    episode, those recorded by an instant (store time), or all of them."""

    version: int | None = None
    as_of: datetime | None = None


def cut_events(
    events: Sequence[tuple[int, EpisodeEvent]], episode_id: UUID, cut: Cut
) -> list[tuple[int, EpisodeEvent]]:
    """The events a replay of `episode_id` at `cut` folds (EpisodeNotFound when
    the episode had no such version, or nothing recorded by the instant)."""
    mine = [(p, e) for p, e in events if e.originator_id == episode_id]
    if cut.version is not None:
        at = [p for p, e in mine if e.originator_version == cut.version]
        if cut.version < 1 or not at:
            raise EpisodeNotFound(episode_id, version=cut.version)
        return [(p, e) for p, e in events if p <= at[0]]
    if cut.as_of is not None:
        as_of = cut.as_of
        if not any(e.timestamp <= as_of for _, e in mine):
            raise EpisodeNotFound(episode_id, as_of=as_of)
        return [(p, e) for p, e in events if e.timestamp <= as_of]
    if not mine:
        raise EpisodeNotFound(episode_id)
    return list(events)


class AuditFold:
    """The audit's episode and finding rows of a few episodes, in memory, as the
    projection would store them after the events folded so far.

    Like the engine: each event through `handle`, the key's `settle`, then the
    messages it sent through `receive` and that key's `settle`. Only the rows an
    episode's audit row is read from are kept (the summary's totals are not).
    """

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self.projection = audit_projection(rules)
        self._handles = frozenset(self.projection.handles)
        self._states: dict[str, State | None] = {}
        self._episodes: dict[str, Row] = {}
        self._findings: dict[tuple[Any, ...], Row] = {}

    def apply(self, position: int, event: EpisodeEvent) -> None:
        """Fold one event (at its global `position`) in."""
        if type(event) not in self._handles:
            return
        projection = self.projection
        key = str(event.originator_id)
        handled = self._keep(
            key, projection.handle(self._states.get(key), event, position)
        )
        messages = list(handled.messages)
        if projection.settles:
            messages += self._keep(
                key, projection.settle(key, self._states[key])
            ).messages
        for message in messages:
            state = self._states.get(message.key)
            received = projection.receive(message.key, state, message, position)
            self._keep(message.key, received)
            if projection.settles:
                settled = projection.settle(message.key, self._states[message.key])
                self._keep(message.key, settled)

    def episode_row(self, episode_id: UUID) -> Row | None:
        """The episode's stored row, or None before its first event."""
        return self._episodes.get(str(episode_id))

    def finding_rows(self, episode_id: UUID) -> list[Row]:
        """The episode's stored finding rows (pending deadlines included)."""
        wanted = str(episode_id)
        return [dict(r) for r in self._findings.values() if r["episode_id"] == wanted]

    def _keep(self, key: str, handled: Handled) -> Handled:
        self._states[key] = handled.state
        for change in handled.changes:
            self._change(change)
        return handled

    def _change(self, change: Change) -> None:
        if isinstance(change, Put) and change.table == EPISODES.name:
            self._episodes[change.row["episode_id"]] = dict(change.row)
        elif isinstance(change, Put) and change.table == FINDINGS.name:
            row = dict(change.row)
            self._findings[(row["episode_id"], *_identity(row))] = row
        elif isinstance(change, Remove) and change.table == FINDINGS.name:
            for found, row in list(self._findings.items()):
                if all(row.get(k) == v for k, v in change.match.items()):
                    del self._findings[found]
        # Other tables (referrers, surgeons, the summary's totals) are not read here.


@dataclass(frozen=True)
class Replay:
    """An episode's audit rows as the projection held them at a cut."""

    episode_id: UUID
    version: int
    """The episode's version the replay reached."""
    rules: RuleSet
    episode: Row
    """The episode's row as the projection stores it."""
    findings: list[Row]
    """Its finding rows, pending deadlines included."""

    def audit_row(self, now: datetime) -> Row:
        """The audit row a reader at `now` gets (GET /audit/referral-loops/{id})."""
        if isinstance(self.rules, AuditRulesV2):
            return report.audit_row(self.episode, self.findings, now, self.rules)
        row = v1_summary.audit_row(self.episode, self.findings, now, self.rules)
        # As the view reads a rule set v1 row (infra.views.referral_audit).
        return {
            **row,
            "rules_profile": self.episode["rules_profile"],
            "surgery_referrals": [],
        }

    def pending(self, now: datetime) -> list[Row]:
        """The findings whose deadline a reader at `now` has not reached yet."""
        return [
            public_finding(row)
            for row in sorted(self.findings, key=_order)
            if row.get("fires_at") is not None and row["fires_at"] > now
        ]


def replay_audit(
    events: Sequence[tuple[int, EpisodeEvent]],
    episode_id: UUID,
    rules: RuleSet = RULES_V2,
    cut: Cut | None = None,
) -> Replay:
    """The episode's audit rows after the patient's `events` up to `cut` (all of
    them by default), judged by `rules`."""
    fold = AuditFold(rules)
    for position, event in cut_events(events, episode_id, cut or Cut()):
        fold.apply(position, event)
    row = fold.episode_row(episode_id)
    if row is None:  # pragma: no cover - cut_events found the episode's events
        raise EpisodeNotFound(episode_id)
    return Replay(episode_id, row["version"], rules, row, fold.finding_rows(episode_id))


# -- the timeline ---------------------------------------------------------------


@dataclass(frozen=True)
class TimelineStep:
    """What one recorded event changed in the episode's findings.

    `cause` is "event" for the episode's own event at `version`, "patient" for an
    event of another of the patient's episodes (which can change R5 here; its
    type and clinical time are not shown). Findings are shown as the audit row
    shows them, pending deadlines included (`fires_at`).
    """

    version: int
    cause: str
    type: str | None
    occurred_at: datetime | None
    recorded_at: datetime
    appeared: list[Row]
    cleared: list[Row]
    changed: list[Row]


def audit_timeline(
    events: Sequence[tuple[int, EpisodeEvent]],
    episode_id: UUID,
    rules: RuleSet = RULES_V2,
    cut: Cut | None = None,
) -> list[TimelineStep]:
    """For each version of the episode (up to `cut`), the findings that appeared,
    cleared or changed when it was recorded; plus a step for each event of the
    patient's other episodes that changed a finding here.

    `events` are the patient's stored events in global order (position, event),
    as `infra.audit_replay.AuditReplays.patient_events` reads them.
    """
    fold = AuditFold(rules)
    before: dict[tuple[Any, ...], Row] = {}
    steps: list[TimelineStep] = []
    version = 0
    for position, event in cut_events(events, episode_id, cut or Cut()):
        fold.apply(position, event)
        own = event.originator_id == episode_id
        if own:
            version = event.originator_version
        elif version == 0:
            continue  # the episode had not opened yet
        after = {_identity(r): public_finding(r) for r in fold.finding_rows(episode_id)}
        appeared = [after[k] for k in sorted(after.keys() - before.keys())]
        cleared = [before[k] for k in sorted(before.keys() - after.keys())]
        changed = [
            after[k]
            for k in sorted(after.keys() & before.keys())
            if after[k] != before[k]
        ]
        if own or appeared or cleared or changed:
            steps.append(
                TimelineStep(
                    version=version,
                    cause="event" if own else "patient",
                    type=type(event).__name__ if own else None,
                    occurred_at=event.occurred_at if own else None,
                    recorded_at=event.timestamp,
                    appeared=_ordered(appeared),
                    cleared=_ordered(cleared),
                    changed=_ordered(changed),
                )
            )
        before = after
    return steps


def public_finding(row: Row) -> Row:
    """A stored finding row as readers see it (rule set v1 rows have no scope)."""
    found = {key: row.get(key) for key in FINDING_FIELDS}
    found["scope"] = found["scope"] or "episode"
    return found


def _identity(row: Row) -> tuple[Any, ...]:
    return (
        int(row["rule"][1:]),
        row["at_version"],
        row["subject"],
        row.get("scope") or "episode",
    )


def _order(row: Row) -> tuple[Any, ...]:
    return _identity(row)


def _ordered(findings: list[Row]) -> list[Row]:
    return sorted(findings, key=lambda f: (int(f["rule"][1:]), f["at_version"]))
