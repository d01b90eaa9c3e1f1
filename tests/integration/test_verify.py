"""Tamper evidence: `verify` catches events changed, removed or reordered in the store."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from domain import commands as cmd
from domain.application import CareEpisodes
from infra.cli import app as cli
from infra.database import Database
from infra.verify import load_heads, save_heads, verify_store
from tests.support import builders as b


def open_episode(app: CareEpisodes, **overrides):
    opening = cmd.OpenEpisode(occurred_at=b.at(0), **b.referral(**overrides))
    return app.handle(opening, actor=b.SERVICE).episode_id


@pytest.fixture
def episode_id(app: CareEpisodes):
    """An episode of four events, beside another untouched one."""
    episode_id = open_episode(app)
    later = [
        (cmd.RecordDiagnostic, b.mri()),
        (cmd.RecordOutcome, b.outcome()),
        (cmd.SendConsultNote, b.consult_note()),
    ]
    for day, (command_type, body) in enumerate(later, start=1):
        command = b.command(command_type, episode_id, body, days=day)
        app.handle(command, actor=b.SERVICE)
    open_episode(app, patient_id="pt-2")
    return episode_id


def tamper(app: CareEpisodes, statement: str, *params) -> None:
    """Change stored event rows behind the application's back, as someone with
    the owner's rights could: past the append-only trigger."""
    db = Database(app)
    table = app.recorder.events_table_name
    with db.writing() as cur:
        if db.dialect.name == "sqlite":
            for verb in ("update", "delete"):
                cur.execute(f"DROP TRIGGER IF EXISTS {table}_append_only_{verb}")
        else:
            cur.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only")
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
    closing = b.command(cmd.CloseEpisode, episode_id, b.closure(), days=9)
    app.handle(closing, actor=b.SERVICE)
    report = verify_store(app, load_heads(heads_file))
    assert report.ok and report.heads[str(episode_id)][0] == 5


def test_the_verify_command_exits_non_zero_on_tampering(app, episode_id, settings):
    runner = CliRunner()
    passed = runner.invoke(cli, ["verify"], obj=settings)
    assert passed.exit_code == 0, passed.output
    assert "verified 5 events in 2 episodes and 0 access-log entries: OK" in (
        passed.output
    )
    tamper(
        app,
        "DELETE FROM {table} WHERE originator_id = ? AND originator_version = 3",
        key(app, episode_id),
    )
    failed = runner.invoke(cli, ["verify"], obj=settings)
    assert failed.exit_code == 1
    assert f"REMOVED    episode {episode_id} version 3" in failed.output
    assert "chain-heads digest:" in failed.output


@pytest.mark.parametrize(
    "statement", ["UPDATE {table} SET topic = topic", "DELETE FROM {table}"]
)
def test_the_store_itself_refuses_to_change_or_remove_an_event(
    app, episode_id, statement
):
    db = Database(app)
    with pytest.raises(Exception, match="append-only"), db.writing() as cur:
        cur.execute(statement.format(table=app.recorder.events_table_name))
    assert verify_store(app).ok
