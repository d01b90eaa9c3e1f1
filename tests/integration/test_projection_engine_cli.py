"""`care-episodes projections status | rebuild | retry` on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from infra import cli_projections
from infra.projection import Engine
from infra.settings import get_settings
from tests.integration import projection_support as ps

cli = typer.Typer()
cli.add_typer(cli_projections.projections_app, name="projections")


@pytest.fixture
def run(settings, monkeypatch):
    """Invoke `care-episodes projections …` on the test store and projections."""
    monkeypatch.setenv("CARE_DATABASE_URL", settings.database_url)
    monkeypatch.setattr(
        cli_projections,
        "projections_for",
        lambda _settings: [*ps.projections(), ps.FragileLog()],
    )
    get_settings.cache_clear()
    yield lambda *args: CliRunner().invoke(cli, ["projections", *args])
    get_settings.cache_clear()


def caught_up(store, settings) -> None:
    worker = Engine(store, settings, [*ps.projections(), ps.FragileLog()], ps.FAST)
    worker.catch_up()
    worker.close()


def test_status_lists_each_projection_with_its_lag_and_last_error(store, settings, run):
    poison = ps.poisoned_store(store)
    caught_up(store, settings)

    result = run("status")

    assert result.exit_code == 0, result.output
    for name in ("episode_activity", "event_log", "fragile_log"):
        assert name in result.output
    assert "failed" in result.output
    assert f"last error at position {poison}" in result.output


def test_rebuild_switches_to_a_new_generation_and_says_so(store, settings, run, reads):
    ps.seed(store, episodes=3)
    caught_up(store, settings)

    result = run("rebuild", "event_log")

    assert result.exit_code == 0, result.output
    head = store.recorder.max_notification_id()
    assert f"event_log: generation 2 (version 1) now serves, at position {head}" in (
        result.output
    )
    ps.assert_views_match_a_fold(store, reads)


def test_rebuild_of_an_unknown_projection_names_the_known_ones(store, run):
    result = run("rebuild", "nope")

    assert result.exit_code == 2
    assert "no projection 'nope'" in result.output
    assert "event_log" in result.output


def test_retry_lets_a_failed_projection_resume(store, settings, run):
    ps.poisoned_store(store)
    caught_up(store, settings)

    result = run("retry", "fragile_log")

    assert result.exit_code == 0, result.output
    assert "resumes from the failed event" in result.output
    assert "not failed" in run("retry", "event_log").output
