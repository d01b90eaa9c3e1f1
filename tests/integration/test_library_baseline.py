"""The catch-up benchmark's baseline is faithful: the library's ProjectionRunner
(bench.library_runner), one transaction per event, builds the same rows of every
real read model as the engine (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date

from bench.library_runner import GENERATION, run_library
from domain.application import CareEpisodes
from infra.catalog import build_projections
from infra.database import Database
from infra.demo import anchor_on, load
from infra.projection import Engine, EngineOptions
from infra.settings import Settings
from tests.integration.test_projection_batching import rows_of


def test_the_library_runner_builds_what_the_engine_builds(
    app: CareEpisodes, settings: Settings
):
    # given demo episodes of every pathway, caught up by the engine
    load(app, 12, seed=5, anchor=anchor_on(date(2026, 10, 1)))
    projections = build_projections(settings)
    engine = Engine(app, settings, projections, EngineOptions(poll_interval_s=0.01))
    engine.catch_up()
    engine.close()
    # when the library's runner projects the same events
    head = app.recorder.max_notification_id()
    assert head
    run_library(app, settings, build_projections(settings), head)
    # then its tables hold the engine's rows
    db = Database(app)
    for projection in projections:
        assert rows_of(db, projection, GENERATION) == rows_of(db, projection, 1), (
            projection.name
        )
