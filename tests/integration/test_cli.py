"""The command line on each backend: what each command prints, and its exit codes
(0 done, 1 the check found something, 2 usage, 3 configuration or store)."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infra.cli import app as cli
from infra.settings import Settings
from tests.support.projections import ROOT


@pytest.fixture
def run(settings: Settings):
    """`care-episodes ARGS` on this test's store."""

    def invoke(*args: str, obj: Settings | None = None):
        return CliRunner().invoke(cli, list(args), obj=obj or settings)

    return invoke


def care_episodes(
    *args: str, env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess:
    """The installed command in a process of its own, settings from `env`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CARE_")}
    return subprocess.run(
        [sys.executable, "-m", "infra.cli", *args],
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_init_store_creates_the_tables_and_says_where(run, settings):
    result = run("init-store")
    assert result.exit_code == 0, result.output
    assert f"store: {settings.backend}" in result.output
    assert "newest position 0" in result.output
    assert "password" not in result.output


def test_demo_records_episodes_reproducibly_and_verify_passes(run):
    result = run("demo", "--episodes", "40", "--seed", "3", "--as-if-on", "2026-06-01")
    assert result.exit_code == 0, result.output
    assert "recorded 40 demo episodes" in result.output
    verified = run("verify")
    assert verified.exit_code == 0, verified.output
    assert "in 40 episodes and 0 access-log entries: OK" in verified.output


def test_verify_exits_1_on_tampering_and_2_on_an_unreadable_heads_file(run, tmp_path):
    run("demo", "--episodes", "3", "--seed", "1")
    heads = tmp_path / "heads.json"
    saved = run("verify", "--save-heads", str(heads))
    assert saved.exit_code == 0 and heads.exists()
    # heads saved when an episode had more events than it has now (its newest
    # ones deleted since)
    data = json.loads(heads.read_text())
    episode, (version, link) = next(iter(data["heads"].items()))
    data["heads"][episode] = [version + 5, link]
    heads.write_text(json.dumps(data))
    found = run("verify", "--heads", str(heads))
    assert found.exit_code == 1, found.output
    assert "FAILED" in found.output
    unreadable = run("verify", "--heads", str(tmp_path / "missing.json"))
    assert unreadable.exit_code == 2
    assert "cannot read the heads file" in unreadable.output
    heads.write_text("not json")
    malformed = run("verify", "--heads", str(heads))
    assert malformed.exit_code == 2


def test_projections_status_lists_every_projection(run):
    run("demo", "--episodes", "5", "--seed", "2")
    result = run("projections", "status")
    assert result.exit_code == 0, result.output
    assert "referral_audit" in result.output


def test_an_unknown_projection_is_a_usage_error(run):
    result = run("projections", "rebuild", "no_such_read_model")
    assert result.exit_code == 2
    assert "no projection 'no_such_read_model'" in result.output


def test_a_rebuild_sets_its_garbage_collector_as_a_long_running_process(run, settings):
    # given a store with episodes, and a young threshold of its own
    assert run("demo", "--episodes", "5", "--seed", "3").exit_code == 0
    own = settings.model_copy(update={"gc_young_threshold": 4321})
    # when a read model is rebuilt
    result = run("projections", "rebuild", "worklist", obj=own)
    # then the new generation serves, built with the collector set to it
    assert result.exit_code == 0, result.output
    assert "worklist: generation 2" in result.output
    assert gc.get_threshold()[0] == 4321
    assert gc.get_freeze_count() > 0


def test_a_command_that_only_reads_refuses_a_missing_sqlite_store(tmp_path):
    missing = Settings(database_url=f"sqlite:///{tmp_path / 'typo.db'}")
    for args in (["verify"], ["export"]):
        result = CliRunner().invoke(cli, args, obj=missing)
        assert result.exit_code == 3, args
        assert "no store at" in result.output
        assert not (tmp_path / "typo.db").exists()


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("CARE_DATABASE_URL", "mysql://db/x", "CARE_DATABASE_URL: scheme 'mysql'"),
        ("CARE_DATABASE_URL", "postgresql://u:pw@h:port/db", "invalid port"),
        ("CARE_DATABASE_URL", "postgresql://u@h:5432/", "names no database"),
        ("CARE_PROJECTION_BATCH_SIZE", "abc", "CARE_PROJECTION_BATCH_SIZE"),
        ("CARE_READ_WAIT_TIMEOUT", "-1", "CARE_READ_WAIT_TIMEOUT"),
        ("CARE_AUDIT_BLOCK_PROFILE", "medicare", "CARE_AUDIT_BLOCK_PROFILE"),
        ("CARE_GC_YOUNG_THRESHOLD", "10", "CARE_GC_YOUNG_THRESHOLD"),
    ],
)
@pytest.mark.parametrize("command", ["serve", "init-store", "project"])
def test_bad_settings_are_one_sentence_naming_the_variable_and_exit_3(
    tmp_path, command, variable, value, words
):
    result = care_episodes(command, env={variable: value}, cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    assert words in result.stderr
    assert "Traceback" not in result.stderr
    assert "pw" not in result.stderr  # the password stays out of messages
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_unreachable_store_is_one_sentence_and_exit_3(tmp_path):
    env = {"CARE_DATABASE_URL": "postgresql://care@127.0.0.1:1/care"}
    for command in (["init-store"], ["verify"], ["projections", "status"]):
        result = care_episodes(*command, env=env, cwd=tmp_path)
        assert result.returncode == 3, (command, result.stderr)
        assert "the store cannot be reached" in result.stderr
        assert "Traceback" not in result.stderr


@pytest.mark.postgres
def test_a_missing_postgres_database_is_exit_3(postgres_admin_url, tmp_path):
    url = postgres_admin_url.rsplit("/", 1)[0] + "/care_no_such_database"
    result = care_episodes("init-store", env={"CARE_DATABASE_URL": url}, cwd=tmp_path)
    assert result.returncode == 3
    assert 'database "care_no_such_database" does not exist' in result.stderr


def test_usage_errors_exit_2(run):
    assert run("no-such-command").exit_code == 2
    assert run("demo", "--episodes", "0").exit_code == 2
    assert run("healthcheck").exit_code == 2


def test_healthcheck_judges_a_heartbeat_file(run, tmp_path):
    beat = tmp_path / "alive"
    assert run("healthcheck", "--heartbeat", str(beat)).exit_code == 1
    beat.touch()
    assert run("healthcheck", "--heartbeat", str(beat)).exit_code == 0
    os.utime(beat, (0, 0))
    stale = run("healthcheck", "--heartbeat", str(beat), "--max-age", "5")
    assert stale.exit_code == 1 and "old" in stale.output


def test_healthcheck_of_a_url_that_does_not_answer_exits_1(run):
    result = run("healthcheck", "--url", "http://127.0.0.1:1/readyz")
    assert result.exit_code == 1
