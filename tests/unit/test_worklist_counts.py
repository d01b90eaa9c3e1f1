"""The running totals behind the summary: a binary calendar of due days, kept in
step with the task rows, and the summary they give at any `now`."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from domain import commands as cmd
from projections.worklist import (
    TOTAL,
    WorklistProjection,
    buckets_before,
    buckets_of,
    is_overdue,
    shown_priority,
    summarize,
)
from projections.worklist.counts import EPOCH
from tests.support import builders as b
from tests.support.fold import project
from tests.unit.worklist_support import Walk

DAYS = [EPOCH + timedelta(days=n) for n in (0, 1, 2, 3, 7, 8, 1000, 20_000, 20_513)]


@pytest.mark.parametrize("today", DAYS)
def test_the_buckets_before_a_day_hold_each_earlier_day_exactly_once(today):
    for n in range(-3, 40):
        day = today + timedelta(days=n)
        shared = set(buckets_of(day)) & set(buckets_before(today))
        # Days before the calendar count as its first day: long overdue.
        assert len(shared) == (1 if max(day, EPOCH) < today else 0), day


def test_every_day_counts_in_the_total_bucket_and_one_bucket_per_level():
    buckets = buckets_of(date(2026, 3, 2))
    assert buckets[-1] == TOTAL
    assert len(set(buckets)) == len(buckets) == 10


def test_days_before_the_calendar_count_as_its_first_day():
    assert buckets_of(date(1900, 1, 1)) == buckets_of(EPOCH)


def busy_episodes():
    """Episodes whose tasks open, move (assignment, late treatment) and close."""
    one = Walk().do(cmd.AssignClinician, b.assignment(), days=1)
    one.do(cmd.ScreenRedFlags, b.screening(), days=1)
    one.do(cmd.AdministerBiologic, b.prp(), days=3)
    one.do(
        cmd.AssignClinician,
        b.assignment(clinician_id="clin-bo", clinician_name="Bo"),
        days=4,
    )
    two = Walk(red_flags=["infection"]).do(cmd.RecordOutcome, b.outcome(), days=1)
    two.do(cmd.PerformIntervention, b.esi(), days=2)
    two.do(cmd.RecordOutcome, b.outcome(score=20), days=40)
    three = Walk().do(cmd.ReferToSurgery, b.surgery_referral(), days=5)
    three.do(cmd.CloseEpisode, b.closure(), days=6)
    return [one.episode, two.episode, three.episode]


def test_the_running_totals_equal_the_open_task_rows_at_every_level():
    views = project(WorklistProjection(), *busy_episodes())
    tasks = list(views["tasks"].values())
    expected: Counter = Counter()
    for row in tasks:
        for axis, name in (("kind", row["kind"]), ("assignee", row["assignee"] or "")):
            due_day = row["due_at"].astimezone(UTC).date()
            for bucket in buckets_of(due_day):
                expected[(bucket, axis, name, row["priority"], row["escalates"])] += 1
    actual = {k: r["open"] for k, r in views["counts"].items() if r["open"]}
    assert actual == dict(expected)


def summary_at(views, now: datetime):
    """What the SQL view reads, done over the fold's tables."""
    today = now.date()
    wanted = {TOTAL, *buckets_before(today)}
    totals: Counter = Counter()
    for r in views["counts"].values():
        if r["bucket"] in wanted:
            group = (r["axis"], r["name"], r["priority"], r["escalates"])
            totals[(*group, r["bucket"] == TOTAL)] += r["open"]
    groups = [
        {
            "axis": axis,
            "name": name,
            "priority": priority,
            "escalates": escalates,
            "total": totals[(axis, name, priority, escalates, True)],
            "before": totals[(axis, name, priority, escalates, False)],
        }
        for axis, name, priority, escalates in {key[:4] for key in totals}
    ]
    midnight = datetime.combine(today, datetime.min.time(), UTC)
    due_today: Counter = Counter(
        (r["kind"], r["assignee"], r["priority"], r["escalates"])
        for r in views["tasks"].values()
        if midnight <= r["due_at"] <= now
    )
    rows = [
        {"kind": k, "assignee": a, "priority": p, "escalates": e, "n": n}
        for (k, a, p, e), n in due_today.items()
    ]
    return summarize(groups, rows, now, 1)


NOWS = [b.at(0, 1), b.at(1, 23), b.at(2, 5), b.at(9), b.at(45), b.at(400)]


@pytest.mark.parametrize("now", NOWS)
def test_the_summary_counts_what_a_scan_of_the_tasks_counts_at_any_now(now):
    views = project(WorklistProjection(), *busy_episodes())
    tasks = list(views["tasks"].values())
    summary = summary_at(views, now)
    overdue = [r for r in tasks if is_overdue(r, now)]
    assert (summary.open, summary.overdue) == (len(tasks), len(overdue))
    assert {k.kind: (k.open, k.overdue) for k in summary.by_kind if k.open} == {
        kind: (
            sum(r["kind"] == kind for r in tasks),
            sum(r["kind"] == kind for r in overdue),
        )
        for kind in {r["kind"] for r in tasks}
    }
    shown = Counter(shown_priority(r, now) for r in tasks)
    assert {p.priority: p.open for p in summary.by_priority} == {
        p: shown.get(p, 0) for p in ("urgent", "high", "normal")
    }
    by_assignee = {
        a.assignee: (a.open, a.overdue, a.urgent, a.high) for a in summary.by_assignee
    }
    assert by_assignee == {
        who: (
            sum(r["assignee"] == who for r in tasks),
            sum(r["assignee"] == who for r in overdue),
            sum(
                r["assignee"] == who and shown_priority(r, now) == "urgent"
                for r in tasks
            ),
            sum(
                r["assignee"] == who and shown_priority(r, now) == "high" for r in tasks
            ),
        )
        for who in {r["assignee"] for r in tasks}
    }


def test_an_escalating_task_shows_high_from_its_due_time_on():
    row = Walk().do(cmd.PerformIntervention, b.esi(), days=1).row("outcome_due", "2:6w")
    assert shown_priority(row, row["due_at"] - timedelta(seconds=1)) == "normal"
    assert shown_priority(row, row["due_at"]) == "high"
