"""The access log on a real store: append-only at the database, filtered and paged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from infra.access_log import AccessLog
from infra.database import Database
from infra.eventstore import build_application


def record(log: AccessLog, principal: str, episodes, at=None) -> int:
    return log.record(
        principal_id=principal,
        role="clinician",
        action="GET /episodes/{episode_id}",
        episode_ids=episodes,
        request_id="req-1",
        outcome="disclosed",
        at=at,
    )


def test_an_entry_reads_back_with_its_episodes(app):
    log = AccessLog(app)
    first, second = uuid4(), uuid4()
    entry_id = record(log, "clin-ana", [first, second, first])
    [entry] = log.entries()
    assert entry.id == entry_id and entry.principal_id == "clin-ana"
    assert sorted(entry.episode_ids) == sorted([first, second])
    assert entry.at.tzinfo is not None


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE access_log SET principal_id = 'nobody'",
        "DELETE FROM access_log",
        "UPDATE access_log_episodes SET episode_id = episode_id",
        "DELETE FROM access_log_episodes",
    ],
)
def test_the_database_refuses_to_change_or_delete_entries(app, statement):
    log = AccessLog(app)
    record(log, "clin-ana", [uuid4()])
    with pytest.raises(Exception, match="append-only"), Database(app).writing() as cur:
        cur.execute(statement)
    assert [e.principal_id for e in log.entries()] == ["clin-ana"]


def test_entries_filter_by_episode_principal_and_time_newest_first(app):
    log = AccessLog(app)
    episode = uuid4()
    now = datetime.now(UTC)
    old = record(log, "clin-ana", [episode], at=now - timedelta(days=2))
    record(log, "svc-1", [uuid4()], at=now - timedelta(days=1))
    new = record(log, "clin-ana", [episode], at=now)
    assert [e.id for e in log.entries(episode_id=episode)] == [new, old]
    assert [e.id for e in log.entries(principal_id="svc-1")] != []
    assert [e.id for e in log.entries(since=now - timedelta(hours=1))] == [new]
    assert [e.id for e in log.entries(until=now - timedelta(days=1, hours=12))] == [old]
    assert [e.id for e in log.entries(before_id=new, limit=1)] == [new - 1]


def test_the_log_survives_a_restart(app, settings):
    record(AccessLog(app), "clin-ana", [uuid4()])
    app.close()
    with build_application(settings) as restarted:
        assert [e.principal_id for e in AccessLog(restarted).entries()] == ["clin-ana"]
