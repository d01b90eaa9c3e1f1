"""The record its writer cannot rewrite: on PostgreSQL the service's role may only
append (and cannot get past the owner's triggers); on SQLite, which cannot stop
its own writer, every change or removal is found by verify."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from domain import commands as cmd
from infra.bootstrap import bootstrap
from infra.cli import app as cli
from infra.database import Database
from infra.settings import Settings
from infra.verify import load_heads, load_log_head, save_heads, verify_store
from tests.support import builders as b


def read_something(container, times: int = 3) -> None:
    """An episode, read a few times: access-log entries."""
    opening = cmd.OpenEpisode(occurred_at=b.at(0), **b.referral())
    episode_id = container.episodes.handle(opening, actor=b.SERVICE).episode_id
    for n in range(times):
        container.access_log.record(
            principal_id=f"reader-{n}", role="auditor", action="GET /episodes/{id}",
            episode_ids=[episode_id], request_id=None, outcome="disclosed",
        )  # fmt: skip


@pytest.fixture
def service_role(postgres_admin_url: str, postgres_url: str) -> Iterator[str]:
    """A login role for the service, granted its rights by `init-store` (as the
    owner); the role is the cluster's, so it gets a random name and is dropped."""
    role = f"care_svc_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
    result = CliRunner().invoke(
        cli, ["init-store", "--grant-to", role], obj=Settings(database_url=postgres_url)
    )
    assert result.exit_code == 0, result.output
    _, database = postgres_url.rsplit("@", 1)
    yield f"postgresql://{role}@{database}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'REASSIGN OWNED BY "{role}" TO CURRENT_USER')
        conn.execute(f'DROP OWNED BY "{role}"')
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP ROLE IF EXISTS "{role}"')


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE access_log SET principal_id = 'nobody'",
        "DELETE FROM access_log",
        "TRUNCATE access_log",
        "DELETE FROM access_log_episodes",
        "ALTER TABLE access_log DISABLE TRIGGER access_log_append_only",
        "DROP TRIGGER access_log_append_only ON access_log",
        "SET session_replication_role = replica",
        "UPDATE {events} SET topic = topic",
        "DELETE FROM {events}",
        "TRUNCATE {events}",
        "ALTER TABLE {events} DISABLE TRIGGER {events}_append_only",
    ],
)
def test_the_services_role_cannot_rewrite_the_record(service_role, statement):
    with bootstrap(Settings(database_url=service_role, create_tables=False)) as c:
        read_something(c)
        events = c.episodes.recorder.events_table_name  # type: ignore[attr-defined]
        with (
            psycopg.connect(service_role, autocommit=True) as conn,
            pytest.raises(psycopg.Error) as refused,
        ):
            conn.execute(statement.format(events=events))
        assert isinstance(
            refused.value,
            psycopg.errors.InsufficientPrivilege | psycopg.errors.RaiseException,
        ), refused.value
        report = verify_store(c.episodes, log=c.access_log)
        assert report.ok and report.log_entries == 3
        print(
            f"\nrefused to the service role: {statement} ({type(refused.value).__name__})"
        )


def test_the_service_runs_as_its_role_commands_reads_and_rebuilds(service_role):
    settings = Settings(database_url=service_role, create_tables=False)
    with bootstrap(settings) as container:
        read_something(container)
        engine = container.engine()
        engine.catch_up()
        engine.close()
        result = CliRunner().invoke(
            cli, ["projections", "rebuild", container.projections[0].name], obj=settings
        )
        assert result.exit_code == 0, result.output
        assert verify_store(container.episodes, log=container.access_log).ok


def drop_sqlite_triggers(db: Database) -> None:
    with db.writing() as cur:
        for verb in ("update", "delete"):
            for table in ("access_log", "access_log_episodes"):
                cur.execute(f"DROP TRIGGER IF EXISTS {table}_append_only_{verb}")


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator:
    with bootstrap(Settings(database_url=f"sqlite:///{tmp_path / 'care.db'}")) as c:
        read_something(c, times=5)
        yield c


def test_on_sqlite_an_access_log_entry_removed_past_the_triggers_is_found(
    sqlite_store,
):
    db = Database(sqlite_store.episodes)
    drop_sqlite_triggers(db)
    with db.writing() as cur:
        cur.execute("DELETE FROM access_log WHERE id = 3")
    report = verify_store(sqlite_store.episodes, log=sqlite_store.access_log)
    assert [(p.entry_id, "removed" in p.detail) for p in report.log_problems] == [
        (4, True)
    ]
    assert not report.ok


def test_on_sqlite_an_access_log_entry_changed_is_found(sqlite_store):
    db = Database(sqlite_store.episodes)
    drop_sqlite_triggers(db)
    with db.writing() as cur:
        cur.execute("UPDATE access_log SET principal_id = 'someone-else' WHERE id = 2")
    report = verify_store(sqlite_store.episodes, log=sqlite_store.access_log)
    assert [p.entry_id for p in report.log_problems] == [2]


def test_newest_access_log_entries_removed_are_found_against_saved_heads(
    sqlite_store, tmp_path
):
    heads = tmp_path / "heads.json"
    save_heads(verify_store(sqlite_store.episodes, log=sqlite_store.access_log), heads)
    db = Database(sqlite_store.episodes)
    drop_sqlite_triggers(db)
    with db.writing() as cur:
        cur.execute("DELETE FROM access_log WHERE id >= 4")
    # the chain that is left holds together: only the saved head can tell
    assert verify_store(sqlite_store.episodes, log=sqlite_store.access_log).ok
    report = verify_store(
        sqlite_store.episodes,
        load_heads(heads),
        log=sqlite_store.access_log,
        log_head=load_log_head(heads),
    )
    [problem] = report.log_problems
    assert problem.entry_id == 5 and "are gone" in problem.detail
    verified = CliRunner().invoke(
        cli, ["verify", "--heads", str(heads)], obj=sqlite_store.settings
    )
    assert verified.exit_code == 1 and "ACCESS LOG" in verified.output
