"""What a measure decides about one episode (or ESI session), and the events behind it.

A decision is judged from the recorded events only. Where it depends on a
window the reader's clock may not have passed yet, it also carries `due_at` and
the decision that holds until then (`early`): LBP-IMG is pending until its 28
days are over, PROM-REG is excluded as too young until its 1-year window
closes. Readers pick one or the other at their `now` (`at`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import Enum
from typing import Any

from projections.base import State


class Status(Enum):
    """Where an episode stands in a measure."""

    NUMERATOR = "numerator"
    """In the denominator and meeting the numerator's criterion."""
    DENOMINATOR = "denominator"
    """In the denominator, not meeting the numerator's criterion."""
    EXCLUDED = "excluded"
    NOT_ELIGIBLE = "not_eligible"
    """Outside the denominator's population."""
    PENDING = "pending"
    """A window that decides it is still open at the reader's now."""


STATUSES = tuple(status.value for status in Status)

# The event each fact list of projections.clinical.facts comes from.
FACT_TYPES = {
    "referrals": "ReferralReceived",
    "red_flags": "ReferralReceived",
    "screenings": "RedFlagsScreened",
    "diagnostics": "DiagnosticCompleted",
    "interventions": "InterventionPerformed",
    "biologics": "BiologicAdministered",
    "outcomes": "OutcomeRecorded",
    "surgery_referrals": "SurgeryReferred",
    "closed": "EpisodeClosed",
}


@dataclass(frozen=True)
class Verdict:
    """A status with the exclusion it names and a sentence saying why."""

    status: Status
    reason: str
    exclusion: str | None = None


@dataclass(frozen=True)
class Decision:
    """One measure's decision on one episode (or ESI session)."""

    measure: str
    verdict: Verdict
    anchor_at: datetime
    """The clinical instant that places it in a period (opening, closure ...)."""
    deciding: tuple[dict[str, Any], ...]
    """The events that decided it: episode_id, version, position, type, role."""
    subject: str = "episode"
    due_at: datetime | None = None
    early: Verdict | None = None
    """The verdict while the reader's now is before `due_at`."""
    episode_id: str | None = None
    """The episode that holds it, when not the one deciding (ESI-RESP)."""

    def stored(self) -> dict[str, Any]:
        """The decision as plain state (a note to the patient's key carries it)."""
        return {
            "measure": self.measure,
            "verdict": _verdict_state(self.verdict),
            "anchor_at": self.anchor_at,
            "deciding": [dict(entry) for entry in self.deciding],
            "subject": self.subject,
            "due_at": self.due_at,
            "early": _verdict_state(self.early) if self.early else None,
            "episode_id": self.episode_id,
        }

    @classmethod
    def loaded(cls, data: Mapping[str, Any]) -> Decision:
        """A decision from `stored`."""
        early = data["early"]
        return cls(
            measure=data["measure"],
            verdict=_verdict(data["verdict"]),
            anchor_at=data["anchor_at"],
            deciding=tuple(dict(entry) for entry in data["deciding"]),
            subject=data["subject"],
            due_at=data["due_at"],
            early=_verdict(early) if early else None,
            episode_id=data["episode_id"],
        )

    def at(self, now: datetime) -> Verdict:
        """The verdict a reader sees at `now`."""
        if self.due_at is not None and self.early is not None and now < self.due_at:
            return self.early
        return self.verdict


def _verdict_state(verdict: Verdict) -> dict[str, Any]:
    return {
        "status": verdict.status.value,
        "reason": verdict.reason,
        "exclusion": verdict.exclusion,
    }


def _verdict(data: Mapping[str, Any]) -> Verdict:
    return Verdict(Status(data["status"]), data["reason"], data["exclusion"])


@dataclass
class Located:
    """Where each version of an episode sits in the global order, its type, and
    the latest amendment of it (version and position), if any."""

    episode_id: str
    events: Mapping[str, list[Any]] = field(default_factory=dict)
    amended: Mapping[str, list[Any]] = field(default_factory=dict)

    @classmethod
    def of(cls, state: State) -> Located:
        return cls(
            state["episode_id"], state.get("events") or {}, state.get("amended") or {}
        )

    def ref(self, fact: Mapping[str, Any], role: str, kind: str) -> dict[str, Any]:
        """The deciding-event entry of a fact of list `kind` (FACT_TYPES)."""
        version = fact["version"]
        position, type_ = self.events.get(str(version), [None, FACT_TYPES[kind]])
        amendment = self.amended.get(str(version))
        amended_by = (
            {"version": amendment[0], "position": amendment[1]} if amendment else None
        )
        return ref(
            self.episode_id, version, position, type_, role, fact["at"], amended_by
        )


def ref(
    episode_id: str,
    version: int,
    position: int | None,
    type_: str,
    role: str,
    occurred_at: datetime,
    amended_by: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One deciding event, as stored in a decision's row (plain JSON: the
    clinical time in ISO 8601). `amended_by` names the amendment whose correction
    the decision read (the event's facts are the corrected ones)."""
    return {
        "episode_id": episode_id,
        "version": version,
        "position": position,
        "type": type_,
        "role": role,
        "occurred_at": occurred_at.isoformat(),
        "amended_by": dict(amended_by) if amended_by else None,
    }


def days_after(start: datetime, moment: datetime) -> int:
    """Whole calendar days from `start`'s date to `moment`'s, on `start`'s clock
    (the day of opening is day 0)."""
    return (moment.astimezone(start.tzinfo).date() - start.date()).days


def end_of_day(start: datetime, days: int) -> datetime:
    """The instant day `days` after `start` ends, on `start`'s clock."""
    last: date = start.date() + timedelta(days=days + 1)
    return datetime.combine(last, time(), start.tzinfo)
