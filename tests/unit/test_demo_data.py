"""Demo data: realistic pathways through the domain, the same for the same seed."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime

from infra.demo import PATHWAYS, anchor_on, plans

ANCHOR = anchor_on(date(2026, 6, 1))


def test_the_same_seed_and_anchor_give_the_same_episodes():
    first = list(plans(50, seed=9, anchor=ANCHOR))
    again = list(plans(50, seed=9, anchor=ANCHOR))
    other = list(plans(50, seed=10, anchor=ANCHOR))
    assert first == again
    assert [p.episode_id for p in first] != [p.episode_id for p in other]


def test_every_pathway_appears_in_a_large_enough_demo():
    seen = Counter(plan.pathway for plan in plans(400, seed=1, anchor=ANCHOR))
    assert set(seen) == {name for name, _ in PATHWAYS}
    assert seen["flipped"] > seen["red_flag"]


def test_episodes_open_over_the_span_before_the_anchor_oldest_first():
    opened = [p.opened_at for p in plans(100, seed=2, anchor=ANCHOR, span_days=365)]
    assert opened == sorted(opened)
    assert (ANCHOR - opened[0]).days in (364, 365)
    assert all(moment <= ANCHOR.replace(hour=16) for moment in opened)


def test_some_patients_come_back_with_a_second_episode():
    patients = Counter(
        plan.steps[0][2]["patient_id"] for plan in plans(300, seed=4, anchor=ANCHOR)
    )
    assert any(count > 1 for count in patients.values())


def test_late_recording_enters_an_event_after_a_later_one():
    late = next(
        p for p in plans(400, seed=1, anchor=ANCHOR) if p.pathway == "late_recording"
    )
    days = [step[0] for step in late.steps]
    assert days != sorted(days)


def test_recorded_episodes_stop_at_now_and_every_command_is_valid():
    from infra.demo import _decide

    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    for plan in plans(200, seed=3, anchor=ANCHOR):
        episode = _decide(plan, now)  # the aggregate's rules would raise otherwise
        occurred = [event.occurred_at for event in episode.pending_events]
        assert max(occurred) <= now
