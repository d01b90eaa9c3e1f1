"""An engine running beside the writer (the embedded default) learns of each commit
at once, not at its next poll: on SQLite from this process's own commits
(infra.news), on PostgreSQL from NOTIFY."""

from __future__ import annotations

import time
from datetime import date

from domain.application import CareEpisodes
from infra.catalog import build_projections
from infra.database import Database
from infra.demo import anchor_on, load
from infra.projection import EngineOptions
from infra.projection.background import start_in_background
from infra.projection.registry import Registry
from infra.settings import Settings

POLL_S = 60.0  # far longer than the test may take


def _lowest_position(app: CareEpisodes) -> int:
    rows = Registry(Database(app)).load()
    return min((g.position for g in rows if g.role == "serving"), default=0)


def _until(check, seconds: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


def test_an_idle_engine_wakes_on_a_commit_not_at_its_poll(
    app: CareEpisodes, settings: Settings
):
    # given an engine that has caught up and waits, polling only every minute
    load(app, 1, seed=1, anchor=anchor_on(date(2026, 10, 1)))
    Registry(Database(app)).ensure()
    engine = start_in_background(
        app, settings, build_projections(settings),
        EngineOptions(poll_interval_s=POLL_S, batch_size=50),
    )  # fmt: skip
    try:
        first = app.recorder.max_notification_id()
        assert _until(lambda: _lowest_position(app) >= first, 30)
        time.sleep(0.5)  # it is waiting now
        # when more events are committed
        load(app, 1, seed=2, anchor=anchor_on(date(2026, 10, 2)))
        head = app.recorder.max_notification_id()
        assert head > first
        # then every read model reaches them long before the next poll
        assert _until(lambda: _lowest_position(app) >= head, 10)
    finally:
        engine.stop()
