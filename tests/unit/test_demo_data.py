"""Demo data: realistic pathways through the domain, the same for the same seed."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime

from infra.demo import PATHWAYS, anchor_on, decided, plans

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
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    # the aggregate's rules would raise at an invalid command
    episodes = {
        episode.id: episode
        for batch, _ in decided(plans(200, seed=3, anchor=ANCHOR), now)
        for episode in batch
    }
    assert len(episodes) == 200
    for episode in episodes.values():
        occurred = [event.occurred_at for event in episode.pending_events]
        assert max(occurred) <= now


def test_events_are_entered_across_episodes_in_the_order_they_were_entered():
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    entered = []  # (when entered, episode) of every event, in recording order
    latest: dict[object, datetime] = {}
    counted: dict[object, int] = {}
    transactions = []
    done = []
    for batch, complete in decided(plans(300, seed=4, anchor=ANCHOR), now, chunk=50):
        held = set()
        for episode in batch:
            new = episode.pending_events[counted.get(episode.id, 0) :]
            counted[episode.id] = len(episode.pending_events)
            for event in new:
                # a late entry is entered when its predecessor was, or later
                at = max(event.occurred_at, latest.get(episode.id, event.occurred_at))
                latest[episode.id] = at
                entered.append((at, episode.id))
                held.add(episode.id)
        transactions.append(held)
        done.append(complete)
    # then the store's order is the order of entry, whatever the episode
    times = [at for at, _ in entered]
    assert times == sorted(times)
    # and transactions hold events of several episodes, nearly every
    # episode's events spread over several of them
    assert sum(len(held) for held in transactions) / len(transactions) > 3
    spread = Counter(e for held in transactions for e in held)
    assert sum(1 for n in spread.values() if n >= 3) > 250
    # and every plan is complete at the end
    assert done == sorted(done) and done[-1] == 300
