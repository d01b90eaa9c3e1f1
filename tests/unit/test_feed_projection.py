"""The physician feed projection: who gets which items, numbered how, holding what."""

from __future__ import annotations

import json
from datetime import UTC
from decimal import Decimal

import pytest
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    UUIDAsHex,
)

from domain import commands as cmd
from domain import events as ev
from domain.transcodings import register_domain_transcodings
from projections.physician_feed import ITEMS, PhysicianFeedProjection
from tests.support import builders as b
from tests.unit.feed_support import SURGEON, items

OTHER = {"id": "dr-pc-2", "name": "Dr Other", "role": "primary_care"}


def pathway():
    """Opened by dr-pc-1, referred on by the surgeon at version 3."""
    episode = b.opened_episode()
    b.record(episode, cmd.ScreenRedFlags, b.screening(), days=1)
    b.record(episode, cmd.ReceiveReferral, b.further_referral(referrer=SURGEON), 2)
    b.record(episode, cmd.PerformIntervention, b.esi(), days=5)
    b.record(episode, cmd.CloseEpisode, b.closure(), days=30)
    return episode


def test_the_opening_referrer_gets_every_event_numbered_from_one():
    rows = items(pathway())
    assert [(r["seq"], r["version"], r["type"]) for r in rows] == [
        (1, 1, "ReferralReceived"),
        (2, 2, "RedFlagsScreened"),
        (3, 3, "ReferralReceived"),
        (4, 4, "InterventionPerformed"),
        (5, 5, "EpisodeClosed"),
    ]


def test_a_later_referrer_gets_items_only_from_their_own_referral_on():
    rows = items(pathway(), physician=SURGEON["id"])
    assert [(r["seq"], r["version"], r["type"]) for r in rows] == [
        (1, 3, "ReferralReceived"),
        (2, 4, "InterventionPerformed"),
        (3, 5, "EpisodeClosed"),
    ]


def test_a_physician_who_refers_again_gets_each_event_once():
    episode = b.opened_episode()
    again = b.further_referral(referrer=b.referral()["referrer"])
    b.record(episode, cmd.ReceiveReferral, again, days=3)
    b.record(episode, cmd.AssignClinician, b.assignment(), days=4)
    assert [r["version"] for r in items(episode)] == [1, 2, 3]


def test_each_physician_numbers_their_own_items_across_episodes_in_global_order():
    first, second = b.opened_episode(), b.opened_episode(patient_id="pt-0002")
    theirs = b.opened_episode(patient_id="pt-0003", referrer=OTHER)
    b.record(first, cmd.ScreenRedFlags, b.screening(), days=1)
    # fold order: first's two events, then second's, then theirs
    rows = items(first, second, theirs)
    assert [(r["seq"], r["patient_id"]) for r in rows] == [
        (1, "pt-0001"),
        (2, "pt-0001"),
        (3, "pt-0002"),
    ]
    assert [
        r["patient_id"] for r in items(first, second, theirs, physician="dr-pc-2")
    ] == ["pt-0003"]


def test_an_item_holds_the_episode_patient_type_times_summary_and_data():
    episode = b.opened_episode()
    b.record(episode, cmd.AdministerBiologic, b.prp(), days=5)
    row = items(episode)[-1]
    event = episode.pending_events[-1]
    assert row == {
        "physician_id": "dr-pc-1",
        "seq": 2,
        "episode_id": str(episode.id),
        "patient_id": "pt-0001",
        "version": 2,
        "type": "BiologicAdministered",
        "occurred_at": b.at(5),
        "recorded_at": event.timestamp.astimezone(UTC),
        "summary": (
            "PRP 4.5 ml to L4-L5 facet joints (L4-L5), image-guided; lot PRP-2026-0412"
        ),
        "data": {
            "product": "prp",
            "target": "L4-L5 facet joints",
            "levels": ["L4-L5"],
            "volume_ml": 4.5,
            "lot_number": "PRP-2026-0412",
            "image_guided": True,
        },
    }
    assert set(row) == {column.name for column in ITEMS.columns}


def test_item_data_is_plain_json_enums_by_value_dates_iso_decimals_as_numbers():
    episode = b.opened_episode(red_flags=["fracture"])
    b.record(episode, cmd.RecordOutcome, b.outcome(score=Decimal(46)), days=2)
    referral, outcome = (row["data"] for row in items(episode))
    assert json.loads(json.dumps(referral)) == referral
    assert referral["referrer"] == {
        "id": "dr-pc-1", "name": "Dr Primary", "role": "primary_care"
    }  # fmt: skip
    assert referral["red_flags"] == ["fracture"]
    assert referral["symptom_onset"] == "2025-12-20"
    assert outcome == {"instrument": "odi", "score": 46, "follows_version": None}


def test_the_feed_reads_every_event_type():
    assert set(PhysicianFeedProjection.handles) == set(ev.EVENT_TYPES)


def test_a_redelivered_event_changes_nothing_and_sends_nothing():
    projection = PhysicianFeedProjection()
    opening, screen = b.record(
        b.opened_episode(), cmd.ScreenRedFlags, b.screening(), days=1
    ).pending_events
    state = projection.handle(None, opening, 1).state
    state = projection.handle(state, screen, 2).state
    again = projection.handle(state, screen, 2)
    assert (again.state, list(again.changes), list(again.messages)) == (state, [], [])


def test_an_episode_must_open_with_a_referral():
    [_, screen] = b.record(
        b.opened_episode(), cmd.ScreenRedFlags, b.screening(), days=1
    ).pending_events
    with pytest.raises(ValueError, match="no opening referral"):
        PhysicianFeedProjection().handle(None, screen, 2)


def test_the_states_survive_the_stores_transcoder_unchanged():
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    register_domain_transcodings(transcoder)
    projection = PhysicianFeedProjection()
    state = None
    for position, event in enumerate(pathway().pending_events, start=1):
        handled = projection.handle(state, event, position)
        state = handled.state
        for message in handled.messages:
            received = projection.receive(message.key, None, message, position)
            assert (
                transcoder.decode(transcoder.encode(received.state)) == received.state
            )
    assert transcoder.decode(transcoder.encode(state)) == state
