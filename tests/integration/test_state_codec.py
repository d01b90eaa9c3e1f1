"""Projection states are stored in the application transcoder's own bytes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID

import pytest
from eventsourcing.persistence import Transcoder

from domain.application import CareEpisodes
from domain.values import Actor, PrincipalRole, Service
from infra.projection.states import StateCodec

STATE = {
    "episode_id": "7a0c4a8e-0e7b-4a44-9c55-9b8f3f1d2c10",
    "opened_at": datetime(2026, 3, 4, 3, 44, 31, 109222, tzinfo=UTC),
    "local": datetime(2026, 3, 4, 9, 0, tzinfo=timezone(timedelta(hours=5))),
    "naive": datetime(2026, 3, 4, 9, 0),
    "on": date(2026, 3, 4),
    "score": Decimal("62.50"),
    "id": UUID(int=7),
    "service": Service.SPINE_SURGERY,
    "actor": Actor("dr-1", PrincipalRole.CLINICIAN),
    "facts": [{"at": datetime(2026, 1, 1, tzinfo=UTC), "text": "päin ✓", "n": None}],
    "flags": [True, False, 1.5, -3],
}


@pytest.fixture
def transcoder(app: CareEpisodes) -> Transcoder:
    return app.mapper.transcoder


def test_a_state_is_written_byte_for_byte_as_the_transcoder_writes_it(transcoder):
    codec = StateCodec(transcoder)
    data = codec.encode(STATE)
    assert data == transcoder.encode(STATE)
    assert codec.decode(data) == transcoder.decode(data) == STATE


def test_a_value_no_transcoding_knows_is_refused(transcoder):
    with pytest.raises(TypeError, match="set cannot be kept in a state"):
        StateCodec(transcoder).encode({"ids": {1, 2}})
