"""What a clinician must do next on an episode: its open tasks, from its facts.

`open_tasks(facts, rules)` is a pure function of the episode's clinical facts
(projections.clinical.facts), one small function per task kind of DOMAIN.md
"Worklist tasks". The projection re-derives the set whenever the facts change, so a
late-recorded event (one that occurred before events recorded earlier) opens and
closes exactly the tasks it should. Times are clinical time (`occurred_at`).

Where DOMAIN.md speaks of an answer "at or after" its trigger, the same instant
counts (a thing and its answer are often recorded in one sitting); "after" and
"before" compare (occurred_at, version).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from projections.base import State
from projections.clinical.definitions import (
    first_treatment,
    flag_runs,
    identifications,
    in_clinical_order,
    when,
)
from projections.worklist.rules import FollowUp, WorklistRules

Fact = dict[str, Any]
DAY = timedelta(days=1)


class TaskKind(Enum):
    """The kinds of task, in the order DOMAIN.md lists them."""

    RED_FLAG_TRIAGE = "red_flag_triage"
    SCREENING_DUE = "screening_due"
    BASELINE_OUTCOME_DUE = "baseline_outcome_due"
    DIAGNOSTICS_DUE = "diagnostics_due"
    PLAN_DUE = "plan_due"
    OUTCOME_DUE = "outcome_due"
    CONSULT_NOTE_DUE = "consult_note_due"
    SURGICAL_CONSULT_PENDING = "surgical_consult_pending"


class Priority(Enum):
    """A task's priority as a reader sees it; high is an overdue escalating task."""

    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"


@dataclass(frozen=True)
class Task:
    """One open task: (kind, point) is unique within its episode."""

    kind: str
    point: str
    """What the task is about within its kind: the red flag, the physician, the
    pain generator, the treatment's version and follow-up point; "episode" for
    kinds that arise once per episode."""
    opened_at: datetime
    due_at: datetime
    priority: str
    """The stored priority: urgent or normal (high is judged when read)."""
    trigger_version: int
    """The version of the event that opened the task."""
    detail: str
    window: tuple[datetime, datetime] | None = None
    """For a follow-up: when an outcome answers it."""


EPISODE = "episode"


def open_tasks(facts: State, rules: WorklistRules) -> list[Task]:
    """Every task open on the episode (none once it is closed)."""
    if facts["closed"]:
        return []
    return [task for derive in TASK_KINDS for task in derive(facts, rules)]


def red_flag_triage(facts: State, rules: WorklistRules) -> list[Task]:
    """A red flag standing since a referral or screening reported it, until a screen
    rules it out or an emergent/urgent surgery referral answers it."""
    answers = [
        s["at"]
        for s in facts["surgery_referrals"]
        if s["urgency"] in rules.triage_closing_urgencies
    ]
    tasks = []
    for run in flag_runs(facts):
        start = run.start
        if run.end is not None or any(at >= start["at"] for at in answers):
            continue
        due = rules.triage_due(run.flag).after
        reporter = "screening" if "disposition" in start else "referral"
        tasks.append(
            Task(
                TaskKind.RED_FLAG_TRIAGE.value,
                run.flag,
                start["at"],
                start["at"] + due,
                Priority.URGENT.value,
                start["version"],
                f"triage red flag {run.flag} (reported by the {reporter})",
            )
        )
    return tasks


def screening_due(facts: State, rules: WorklistRules) -> list[Task]:
    """A new episode needs a red-flag screen."""
    if facts["screenings"]:
        return []
    opened = facts["opened_at"]
    due = opened + rules.screening.after
    return [_episode_task(TaskKind.SCREENING_DUE, opened, due, "screen for red flags")]


def baseline_outcome_due(facts: State, rules: WorklistRules) -> list[Task]:
    """A new episode needs an outcome before its first intervention or biologic,
    within 7 days or before that treatment if it comes sooner."""
    first = first_treatment(facts)
    outcomes = facts["outcomes"]
    if first is not None:
        outcomes = [o for o in outcomes if when(o) < when(first)]
    if outcomes:
        return []
    opened = facts["opened_at"]
    due = opened + rules.baseline_outcome.after
    if first is not None:
        due = min(due, first["at"])
    detail = "record a baseline outcome before any intervention or biologic"
    return [_episode_task(TaskKind.BASELINE_OUTCOME_DUE, opened, due, detail)]


def diagnostics_due(facts: State, rules: WorklistRules) -> list[Task]:
    """A screen with no red flag asks for the work-up that identifies the pain
    generator; any identification closes it."""
    clear = [s for s in in_clinical_order(facts["screenings"]) if not s["flags"]]
    if not clear or identifications(facts, rules.evidence):
        return []
    first = clear[0]
    return [
        Task(
            TaskKind.DIAGNOSTICS_DUE.value,
            EPISODE,
            first["at"],
            first["at"] + rules.diagnostics.after,
            Priority.NORMAL.value,
            first["version"],
            "identify the pain generator",
        )
    ]


def plan_due(facts: State, rules: WorklistRules) -> list[Task]:
    """Each identified pain generator needs a treatment plan at or after it."""
    plans = [p["at"] for p in facts["plans"]]
    return [
        Task(
            TaskKind.PLAN_DUE.value,
            found.generator,
            found.at,
            found.at + rules.plan.after,
            Priority.NORMAL.value,
            found.version,
            f"plan treatment for the {found.generator} pain generator",
        )
        for found in identifications(facts, rules.evidence)
        if not any(at >= found.at for at in plans)
    ]


def outcome_due(facts: State, rules: WorklistRules) -> list[Task]:
    """Each follow-up point of each biologic and intervention, until an outcome in
    its window that names that treatment (or no treatment) answers it."""
    treatments = [
        (t, t["product"], rules.biologic_follow_ups) for t in facts["biologics"]
    ] + [
        (t, t["procedure"], rules.intervention_follow_ups)
        for t in facts["interventions"]
    ]
    tasks = []
    for treatment, what, points in sorted(treatments, key=lambda t: when(t[0])):
        measures = [
            o for o in facts["outcomes"] if o["follows"] in (None, treatment["version"])
        ]
        for point in points:
            if not any(_in_window(treatment, point, o) for o in measures):
                tasks.append(_follow_up(treatment, what, point))
    return tasks


def consult_note_due(facts: State, rules: WorklistRules) -> list[Task]:
    """A primary-care or concierge referrer, and every surgeon referred to, needs a
    consult note at or after the referral; one task per physician."""
    triggers: dict[str, list[Fact]] = {}
    for referral in facts["referrals"]:
        if referral["referrer_role"] in rules.consult_note_referrers:
            triggers.setdefault(referral["referrer_id"], []).append(referral)
    for surgery in facts["surgery_referrals"]:
        triggers.setdefault(surgery["surgeon_id"], []).append(surgery)
    tasks = []
    for physician, facts_of in triggers.items():
        notes = [n["at"] for n in facts["consult_notes"] if n["to"] == physician]
        waiting = [t for t in facts_of if not any(at >= t["at"] for at in notes)]
        if waiting:
            first = min(waiting, key=when)
            tasks.append(
                Task(
                    TaskKind.CONSULT_NOTE_DUE.value,
                    physician,
                    first["at"],
                    first["at"] + rules.consult_note.after,
                    Priority.NORMAL.value,
                    first["version"],
                    f"send a consult note to {physician}",
                )
            )
    return sorted(tasks, key=lambda task: (task.opened_at, task.point))


def surgical_consult_pending(facts: State, rules: WorklistRules) -> list[Task]:
    """A surgery referral waits for the surgeon: until a referral from spine surgery
    after it; one task per surgeon."""
    answers = [
        r
        for r in facts["referrals"]
        if r["referrer_role"] in rules.surgical_consult_answerers
    ]
    waiting: dict[str, Fact] = {}
    for surgery in in_clinical_order(facts["surgery_referrals"]):
        if not any(when(r) > when(surgery) for r in answers):
            waiting.setdefault(surgery["surgeon_id"], surgery)
    return [
        Task(
            TaskKind.SURGICAL_CONSULT_PENDING.value,
            surgeon,
            surgery["at"],
            surgery["at"] + rules.surgical_consult.after,
            Priority.NORMAL.value,
            surgery["version"],
            f"surgical consult with {surgeon} pending",
        )
        for surgeon, surgery in waiting.items()
    ]


def _episode_task(kind: TaskKind, opened: datetime, due: datetime, detail: str) -> Task:
    return Task(kind.value, EPISODE, opened, due, Priority.NORMAL.value, 1, detail)


def _in_window(treatment: Fact, point: FollowUp, outcome: Fact) -> bool:
    # Whole days after the treatment: day 21 lasts until 22 x 24 h after it.
    first, last = point.window_days
    return first <= (outcome["at"] - treatment["at"]) // DAY <= last


def _follow_up(treatment: Fact, what: str, point: FollowUp) -> Task:
    at = treatment["at"]
    first, last = point.window_days
    return Task(
        TaskKind.OUTCOME_DUE.value,
        f"{treatment['version']}:{point.label}",
        at,
        at + point.due.after,
        Priority.NORMAL.value,
        treatment["version"],
        f"{point.name} after {what} (version {treatment['version']})",
        (at + first * DAY, at + (last + 1) * DAY),
    )


TASK_KINDS: tuple[Callable[[State, WorklistRules], Iterable[Task]], ...] = (
    red_flag_triage,
    screening_due,
    baseline_outcome_due,
    diagnostics_due,
    plan_due,
    outcome_due,
    consult_note_due,
    surgical_consult_pending,
)
