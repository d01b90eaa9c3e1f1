"""Referrals stored before `age_band` existed (ReferralReceived class version 1),
read by today's code on SQLite and PostgreSQL.

The events come from tests/fixtures/stored_v1_events.jsonl: the store's own
export of episodes written by the code before the field was added, imported
byte for byte (their hash-chain links included), so what is read here is what
that code stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent

from domain import commands as cmd
from domain.plain import plain
from infra.bootstrap import Container, bootstrap
from infra.crypto import associated_data, is_sealed, key_id_of, unseal
from infra.settings import Settings
from infra.transfer import import_file
from infra.verify import verify_store
from projections.quality_measures import MeasureFilters
from tests.fixtures.record_v1_events import RETRY_KEY, retried_open
from tests.support import builders as b
from tests.support import projections as ps
from tests.support.fold import expected_views

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "stored_v1_events.jsonl"
LINES = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
FULL, OPEN, BARE = (
    UUID("56105d0c-0d33-42e3-b147-ff4b68f2ba3d"),  # every event type, closed
    UUID("1cd6894b-65c3-51b9-9f7c-a614233e21f0"),  # opened with RETRY_KEY, open
    UUID("e50d5f8d-3ed2-44f9-9732-d80ce54884ea"),  # no intake fields, closed
)
LATER = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
def upgraded(settings: Settings) -> Iterator[Container]:
    """A fresh store of each backend holding the fixture's version-1 events."""
    with bootstrap(settings) as container:
        import_file(container.episodes, FIXTURE)
        yield container


def stored_states(container: Container, episode_id: UUID) -> list[dict[str, Any]]:
    """The episode's ReferralReceived events as the recorder holds them: their
    JSON before the mapper decodes (and upcasts) it."""
    records = container.episodes.recorder.select_events(episode_id)
    return [
        json.loads(_opened(container, record))
        for record in records
        if record.topic.endswith(":ReferralReceived")
    ]


def _opened(container: Container, record: StoredEvent) -> bytes:
    # New payloads are sealed with the patient's key (CARE_ENCRYPT_EVENTS).
    if not is_sealed(record.state):
        return record.state
    keys = container.episodes.mapper.keys  # type: ignore[attr-defined]
    aead = keys.cipher(key_id_of(record.state))
    episode_id = UUID(str(record.originator_id))
    aad = associated_data(episode_id, record.originator_version, record.topic)
    return unseal(aead, record.state, aad)


def test_the_fixture_holds_referrals_stored_without_age_band_or_class_version(
    upgraded: Container,
):
    states = [s for line in LINES for s in stored_states(upgraded, line_id(line))]
    assert len(states) == 4  # three openings and one later referral
    assert all("age_band" not in s and "class_version" not in s for s in states)


def test_old_referrals_read_back_with_no_age_band_and_every_other_field_as_stored(
    upgraded: Container,
):
    for line in LINES:
        history = upgraded.episodes.history(line_id(line))
        assert [h.type for h in history] == [e["type"] for e in line["events"]]
        for entry, stored in zip(history, line["events"], strict=True):
            data = plain(entry.data)
            if entry.type == "ReferralReceived":
                assert data.pop("age_band") is None
            assert data == stored["data"]
            assert entry.chain_hash == stored["chain_hash"]
    assert upgraded.episodes.get_episode(FULL).age_band is None


def test_the_imported_chains_still_verify(upgraded: Container):
    assert verify_store(upgraded.episodes).ok


def test_an_old_episode_takes_new_events_after_its_upcast_ones(upgraded: Container):
    command = b.command(cmd.RecordOutcome, OPEN, b.outcome(), days=8)
    result = upgraded.episodes.handle(command, actor=b.CLINICIAN)
    assert result.version == 2
    reading = upgraded.episodes.get_episode(OPEN)
    assert (reading.version, reading.age_band) == (2, None)
    assert verify_store(upgraded.episodes).ok


def test_a_retry_of_an_opening_keyed_before_the_upgrade_answers_the_original(
    upgraded: Container,
):
    head = upgraded.episodes.recorder.max_notification_id()
    result = upgraded.episodes.handle(
        retried_open(), actor=b.SERVICE, idempotency_key=RETRY_KEY
    )
    assert (result.episode_id, result.version) == (OPEN, 1)
    assert upgraded.episodes.recorder.max_notification_id() == head


def test_a_new_referral_is_stored_as_class_version_2_with_its_age_band(
    upgraded: Container,
):
    body = b.referral(patient_id="pt-new", age_band="65-75")
    opening = cmd.OpenEpisode(occurred_at=b.at(1), **body)
    episode = upgraded.episodes.handle(opening, actor=b.SERVICE).episode_id
    [state] = stored_states(upgraded, episode)
    assert state["class_version"] == 2
    assert state["age_band"]["_data_"] == "65-75"
    assert upgraded.episodes.get_episode(episode).age_band.value == "65-75"


def test_the_quality_measures_read_the_old_events(upgraded: Container):
    engine = upgraded.engine(ps.FAST)
    engine.catch_up()
    engine.close()
    view = upgraded.views.quality_measures

    def decided(measure: str) -> dict[UUID, tuple[str, str | None, str]]:
        rows, _ = view.page(measure, MeasureFilters(), LATER, None, 50)
        return {
            UUID(r["episode_id"]): (r["status"], r["exclusion"], r["reason"])
            for r in rows
        }

    assert decided("LBP-IMG") == {
        FULL: ("not_eligible", None, "the opening referral records no age band"),
        OPEN: ("not_eligible", None, "the opening referral records no age band"),
        BARE: ("not_eligible", None, "the opening referral records no age band"),
    }
    # The full episode's ODI came on day 47, after the 14 days of intake.
    assert decided("FS-CHG")[FULL] == (
        "not_eligible",
        None,
        "no ODI within 14 days of opening",
    )
    status, _, reason = decided("PROM-REG")[FULL]
    assert status == "denominator"
    assert reason.startswith("index epidural_steroid_injection on 2026-04-21 (v8)")
    projection = upgraded.projection("quality_measures")
    actual = ps.actual_views(upgraded.read_models, projection)
    assert actual == expected_views(upgraded.episodes, projection)


def line_id(line: dict[str, Any]) -> UUID:
    return UUID(line["episode_id"])
