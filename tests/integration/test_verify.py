"""Tamper evidence: `verify` catches events changed, removed or reordered in the store."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from domain.application import CareEpisodes
from infra.cli import app as cli
from infra.database import Database
from infra.verify import load_heads, save_heads, verify_store
from tests import builders as b


@pytest.fixture
def episode_id(app: CareEpisodes):
    """An episode of four events, beside another untouched one."""
    result = app.open_episode(actor=b.SERVICE, occurred_at=b.at(0), **b.referral())
    for day, body in enumerate([b.mri(), b.outcome(), b.consult_note()], start=1):
        method = {0: "record_diagnostic", 1: "record_outcome", 2: "send_consult_note"}[
            day - 1
        ]
        getattr(app, method)(
            result.episode_id, actor=b.SERVICE, occurred_at=b.at(day), **body
        )
    app.open_episode(
        actor=b.SERVICE, occurred_at=b.at(0), **b.referral(patient_id="pt-2")
    )
    return result.episode_id


def tamper(app: CareEpisodes, statement: str, *params) -> None:
    """Change stored event rows behind the application's back."""
    db = Database(app)
    table = app.recorder.events_table_name
    with db.writing() as cur:
        cur.execute(statement.format(table=table), params)


def key(app: CareEpisodes, episode_id) -> str:
    return episode_id.hex if Database(app).dialect.name == "sqlite" else str(episode_id)


def kinds(report) -> list[tuple[str, int]]:
    return [(p.kind, p.version) for p in report.problems]


def test_an_untouched_store_verifies_with_a_stable_digest(app, episode_id):
    first, second = verify_store(app), verify_store(app)
    assert first.ok and first.events == 5 and len(first.heads) == 2
    assert first.digest == second.digest and len(first.digest) == 64
    assert first.heads[str(episode_id)][0] == 4


def test_a_changed_event_is_caught(app, episode_id):
    tamper(
        app,
        "UPDATE {table} SET state = ? WHERE originator_id = ? AND originator_version = 2",
        b'{"kind":"ct"}',
        key(app, episode_id),
    )
    report = verify_store(app)
    assert kinds(report) == [("changed", 2)]
    assert report.problems[0].episode_id == episode_id


def test_a_removed_event_is_caught(app, episode_id):
    tamper(
        app,
        "DELETE FROM {table} WHERE originator_id = ? AND originator_version = 2",
        key(app, episode_id),
    )
    assert kinds(verify_store(app)) == [("removed", 2)]


def test_two_swapped_events_are_caught_as_reordered(app, episode_id):
    ident = key(app, episode_id)
    for old, new in ((2, -2), (3, 2), (-2, 3)):
        tamper(
            app,
            "UPDATE {table} SET originator_version = ? "
            "WHERE originator_id = ? AND originator_version = ?",
            new,
            ident,
            old,
        )
    report = verify_store(app)
    assert kinds(report) == [("reordered", 2), ("reordered", 3)]
    assert "recorded as version 3" in report.problems[0].detail


def test_swapped_event_contents_are_caught_as_reordered(app, episode_id):
    ident = key(app, episode_id)
    rows = {}
    with Database(app).reading() as cur:
        for row in cur.execute(
            f"SELECT originator_version, topic, state FROM {app.recorder.events_table_name} "
            "WHERE originator_id = ?",
            (ident,),
        ).fetchall():
            rows[row["originator_version"]] = (row["topic"], bytes(row["state"]))
    for version, other in ((2, 3), (3, 2)):
        tamper(
            app,
            "UPDATE {table} SET topic = ?, state = ? "
            "WHERE originator_id = ? AND originator_version = ?",
            *rows[other],
            ident,
            version,
        )
    assert kinds(verify_store(app)) == [("reordered", 2), ("reordered", 3)]


def test_a_deleted_newest_event_is_caught_against_saved_heads(
    app, episode_id, tmp_path
):
    heads_file = tmp_path / "heads.json"
    save_heads(verify_store(app), heads_file)
    tamper(
        app,
        "DELETE FROM {table} WHERE originator_id = ? AND originator_version = 4",
        key(app, episode_id),
    )
    assert verify_store(app).ok  # the chain alone cannot tell
    report = verify_store(app, load_heads(heads_file))
    assert kinds(report) == [("removed", 4)]


def test_saved_heads_still_verify_after_new_events_are_appended(
    app, episode_id, tmp_path
):
    heads_file = tmp_path / "heads.json"
    save_heads(verify_store(app), heads_file)
    app.close_episode(episode_id, actor=b.SERVICE, occurred_at=b.at(9), **b.closure())
    report = verify_store(app, load_heads(heads_file))
    assert report.ok and report.heads[str(episode_id)][0] == 5


def test_the_verify_command_exits_non_zero_on_tampering(
    app, episode_id, settings, monkeypatch
):
    monkeypatch.setenv("CARE_DATABASE_URL", settings.database_url)
    from infra.settings import get_settings

    get_settings.cache_clear()
    try:
        runner = CliRunner()
        passed = runner.invoke(cli, ["verify"])
        assert passed.exit_code == 0, passed.output
        assert "verified 5 events in 2 episodes: OK" in passed.output
        tamper(
            app,
            "DELETE FROM {table} WHERE originator_id = ? AND originator_version = 3",
            key(app, episode_id),
        )
        failed = runner.invoke(cli, ["verify"])
        assert failed.exit_code == 1
        assert f"REMOVED    episode {episode_id} version 3" in failed.output
        assert "chain-heads digest:" in failed.output
    finally:
        get_settings.cache_clear()
