"""Export then import: the same histories, the same chain digest, the same read
models; and an import that would not be faithful writes nothing."""

from __future__ import annotations

import base64
import io
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from typer.testing import CliRunner

from infra.bootstrap import bootstrap
from infra.cli import app as cli
from infra.demo import anchor_on, load
from infra.eventstore import chained_recorder
from infra.settings import Settings
from infra.transfer import Selection, TransferError, export, import_file
from infra.verify import verify_store
from tests.support import projections as ps

ANCHOR = anchor_on(date(2026, 6, 1))


@pytest.fixture
def source(settings: Settings):
    with bootstrap(settings) as container:
        load(container.episodes, 60, seed=5, anchor=ANCHOR)
        yield container


@pytest.fixture
def target(tmp_path: Path):
    """An empty store of the other kind of file (SQLite), to import into."""
    with bootstrap(Settings(database_url=f"sqlite:///{tmp_path / 'copy.db'}")) as c:
        yield c


def exported(container, selection: Selection | None = None) -> str:
    out = io.StringIO()
    export(container.episodes, out, selection or Selection())
    return out.getvalue()


def histories(container) -> dict[str, list[tuple]]:
    """Every episode's history without its store-specific global positions."""
    recorder = container.episodes.recorder
    ids = {
        str(n.originator_id)
        for n in recorder.select_notifications(start=None, limit=10**9)
    }
    return {
        episode: [
            (h.version, h.type, h.occurred_at, h.recorded_at, h.actor,
             h.idempotency_key, h.data, h.chain_hash)
            for h in container.episodes.history(UUID(episode))
        ]
        for episode in ids
    }  # fmt: skip


def views_without_positions(container) -> dict:
    engine = container.engine(ps.FAST)
    engine.catch_up()
    engine.close()
    views = {}
    for projection in container.projections:
        for name, rows in ps.actual_views(container.read_models, projection).items():
            views[f"{projection.name}.{name}"] = [without_positions(r) for r in rows]
    return views


def without_positions(value: Any) -> Any:
    """A view row with every position taken out, nested ones too (the deciding
    events of a measure): an import gives events positions of its own store."""
    if isinstance(value, dict):
        return {k: without_positions(v) for k, v in value.items() if k != "position"}
    if isinstance(value, list):
        return [without_positions(v) for v in value]
    return value


def test_an_import_reproduces_histories_digest_and_read_models(
    source, target, tmp_path
):
    path = tmp_path / "export.jsonl"
    path.write_text(exported(source))
    episodes, events = import_file(target.episodes, path)

    assert episodes == 60
    assert events == chained_recorder(source.episodes).count_events()
    assert histories(target) == histories(source)
    assert verify_store(target.episodes).digest == verify_store(source.episodes).digest
    assert verify_store(target.episodes).ok
    assert views_without_positions(target) == views_without_positions(source)


def test_an_export_can_be_narrowed_to_patients_and_to_a_window(source):
    lines = [json.loads(line) for line in exported(source).splitlines()]
    patient = lines[0]["patient_id"]
    theirs = [line for line in lines if line["patient_id"] == patient]
    narrowed = exported(source, Selection(patients=frozenset({patient})))
    assert [json.loads(line) for line in narrowed.splitlines()] == theirs
    first = min(line["events"][0]["occurred_at"] for line in lines)
    since = datetime.fromisoformat(first)
    assert exported(source, Selection(opened_before=since)) == ""


def test_an_import_refuses_episodes_the_store_holds_and_writes_nothing(
    source, target, tmp_path
):
    path = tmp_path / "export.jsonl"
    path.write_text(exported(source))
    import_file(target.episodes, path)
    head = target.episodes.recorder.max_notification_id()
    with pytest.raises(TransferError, match="already holds 60 of these episodes"):
        import_file(target.episodes, path)
    assert target.episodes.recorder.max_notification_id() == head


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (
            lambda e: e.update(state=base64.b64encode(b"{}").decode()),
            "breaks its hash chain",
        ),
        (lambda e: e.update(version=7), "skips from version"),
        (lambda e: e.pop("topic"), "is malformed"),
    ],
    ids=["changed bytes", "a missing version", "a missing field"],
)
def test_an_import_whose_chain_does_not_hold_writes_nothing(
    source, target, tmp_path, damage, words
):
    lines = exported(source).splitlines()
    broken = json.loads(lines[-1])
    damage(broken["events"][-1])
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join([*lines[:-1], json.dumps(broken)]) + "\n")
    with pytest.raises(TransferError, match=words):
        import_file(target.episodes, path)
    assert (target.episodes.recorder.max_notification_id() or 0) == 0


def test_a_line_that_is_not_an_export_is_named(target, tmp_path):
    path = tmp_path / "export.jsonl"
    path.write_text('{"format": "something else"}\n')
    with pytest.raises(TransferError, match="at byte 0 is not a care-episodes/1"):
        import_file(target.episodes, path)
    path.write_text("not json\n")
    with pytest.raises(TransferError, match="is not JSON"):
        import_file(target.episodes, path)


def test_the_commands_export_and_import_through_files_and_pipes(source, tmp_path):
    out = tmp_path / "all.jsonl"
    runner = CliRunner()
    done = runner.invoke(cli, ["export", "--out", str(out)], obj=source.settings)
    assert done.exit_code == 0, done.output
    copy = Settings(database_url=f"sqlite:///{tmp_path / 'piped.db'}")
    piped = runner.invoke(cli, ["import", "-"], input=out.read_text(), obj=copy)
    assert piped.exit_code == 0, piped.output
    assert "imported 60 episodes" in piped.output
    again = runner.invoke(cli, ["import", str(out)], obj=copy)
    assert again.exit_code == 2 and "already holds" in again.output
