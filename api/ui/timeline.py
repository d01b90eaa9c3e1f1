"""An episode's timeline: its events in clinical time, each with who recorded it and
when, the amendments that corrected it beside it, and the audit findings that
appeared or cleared at its version."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from api.ui.chart import OutcomeChart, Score, outcome_chart
from domain.plain import plain
from domain.reading import Entry, EpisodeReading
from projections.referral_audit.replay import TimelineStep

# Recorded more than this after it happened: the timeline says it came in late.
LATE = timedelta(days=1)


@dataclass(frozen=True)
class Amendment:
    """A correction beside the event it corrects."""

    version: int
    recorded_at: datetime
    actor: str
    reason: str
    changes: list[tuple[str, str, str]]
    """(field, value before, corrected value)."""


@dataclass(frozen=True)
class AuditChange:
    """A finding that appeared, cleared or changed when a version was recorded."""

    version: int
    change: str
    """appeared, cleared or changed."""
    finding: dict[str, Any]
    from_other_episode: bool
    """Moved by an event of another of the patient's episodes (R5)."""


@dataclass
class Moment:
    """One event of the timeline."""

    version: int
    type: str
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    fields: list[tuple[str, str]]
    late: bool
    amendments: list[Amendment] = field(default_factory=list)
    audit: list[AuditChange] = field(default_factory=list)


def shown(value: Any) -> str:
    """A field's value as one line of text."""
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(shown(item) for item in value) or "none"
    if isinstance(value, dict):
        return "; ".join(f"{k.replace('_', ' ')}: {shown(v)}" for k, v in value.items())
    return str(value).replace("_", " ") if isinstance(value, str) else str(value)


def _fields(data: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (name.replace("_", " "), shown(value))
        for name, value in data.items()
        if value not in (None, [], "")
    ]


def _actor(entry: Entry) -> str:
    return f"{entry.actor.principal_id} ({plain(entry.actor.role)})"


def timeline(reading: EpisodeReading, steps: list[TimelineStep]) -> list[Moment]:
    """The episode's events in clinical time (then version), amendments beside the
    events they correct, and the audit's changes at each version (an amendment's
    beside the event it corrected)."""
    by_version = {entry.version: entry for entry in reading.entries}
    moments: dict[int, Moment] = {}
    corrects: dict[int, int] = {}
    for entry in reading.entries:
        if entry.type == "EventAmended":
            continue
        first = entry.original or entry
        moments[entry.version] = Moment(
            version=entry.version,
            type=entry.type,
            occurred_at=entry.occurred_at,
            recorded_at=first.recorded_at,
            actor=_actor(first),
            fields=_fields(entry.data),
            late=first.recorded_at - first.occurred_at > LATE,
            amendments=_amendments(first, [by_version[v] for v in entry.amended_by]),
        )
        corrects.update({v: entry.version for v in entry.amended_by})
    for step in steps:
        moment = moments.get(step.version) or moments.get(corrects.get(step.version, 0))
        if moment is None:
            continue
        for change, found in (
            ("appeared", step.appeared),
            ("cleared", step.cleared),
            ("changed", step.changed),
        ):
            moment.audit += [
                AuditChange(step.version, change, f, step.cause == "patient")
                for f in found
            ]
    return sorted(moments.values(), key=lambda m: (m.occurred_at, m.version))


def _amendments(original: Entry, amendments: list[Entry]) -> list[Amendment]:
    """Each correction with the values it replaced (the earlier ones applied)."""
    # A corrected clinical time comes as the field "occurred_at".
    current = {**original.data, "occurred_at": original.occurred_at}
    found = []
    for entry in amendments:
        fields = entry.data.get("fields") or {}
        changes = [
            (name.replace("_", " "), shown(current.get(name)), shown(value))
            for name, value in fields.items()
        ]
        current.update(fields)
        found.append(
            Amendment(
                version=entry.version,
                recorded_at=entry.recorded_at,
                actor=_actor(entry),
                reason=str(entry.data.get("reason", "")),
                changes=changes,
            )
        )
    return found


def outcome_charts(reading: EpisodeReading) -> list[OutcomeChart]:
    """One chart per instrument the episode scored (amended scores as corrected)."""
    scores: dict[str, list[Score]] = defaultdict(list)
    for entry in reading.section("outcomes"):
        instrument = str(plain(entry.data["instrument"]))
        scores[instrument].append(
            Score(entry.version, entry.occurred_at, entry.data["score"])
        )
    return [
        outcome_chart(instrument, found, reading.opened_at)
        for instrument, found in sorted(scores.items())
    ]
