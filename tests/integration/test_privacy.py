"""Amendments through every read model, erasure by crypto-shredding, master-key
rotation: on SQLite and PostgreSQL, through the real store and projections."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import StoredEvent
from pydantic import SecretStr

from domain import commands as cmd
from domain.errors import PatientDataErased
from domain.values import Actor, PrincipalRole
from infra.bootstrap import bootstrap
from infra.crypto import MasterKey, SealError, key_id_of
from infra.database import Database
from infra.demo import anchor_on, load
from infra.encryption import data_keys, prefetch_keys
from infra.erasure import ErasedEntry, erase_patient, erased_history
from infra.eventstore import chained_recorder
from infra.keys import KeyErased
from infra.projection.rebuild import rebuild
from infra.settings import Settings
from infra.verify import verify_store
from tests.support import builders as b
from tests.support import projections as ps

ERASED = "pt-erase-me"
TRACE = "zebra-trace-findings"
AUDITOR = Actor("aud-1", PrincipalRole.AUDITOR)


@pytest.fixture
def container(settings: Settings):
    with bootstrap(settings) as container:
        yield container


def record(app, episode_id: UUID, command_type, body: dict[str, Any], days: float):
    command = b.command(command_type, episode_id, body, days=days)
    return app.handle(command, actor=b.SERVICE)


def amend(app, episode_id: UUID, version: int, fields: dict[str, Any], days=3):
    command = cmd.AmendEvent(
        episode_id=episode_id,
        occurred_at=b.at(days),
        amends_version=version,
        fields=fields,
        reason="the report was misread",
    )
    return app.handle(command, actor=b.SERVICE)


def caught_up(container) -> None:
    engine = container.engine(ps.FAST)
    engine.catch_up()
    engine.close()


def views(container) -> dict[str, list[dict]]:
    found = {}
    for projection in container.projections:
        for name, rows in ps.actual_views(container.read_models, projection).items():
            found[f"{projection.name}.{name}"] = rows
    return found


def without(rows: list[dict], *names: str) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in names} for row in rows]


# -- amendments --------------------------------------------------------------------


def test_an_amended_diagnostic_is_audited_and_worked_as_if_recorded_right(container):
    app = container.episodes
    # given one episode whose MRI named no generator, later corrected to radicular,
    # and one recorded right the first time
    amended = ps.open_episode(app, patient_id="pt-a")
    record(app, amended, cmd.RecordDiagnostic, b.mri(pain_generator=None), 1)
    amend(app, amended, 2, {"pain_generator": "radicular"})
    right = ps.open_episode(app, patient_id="pt-b")
    record(app, right, cmd.RecordDiagnostic, b.mri(pain_generator="radicular"), 1)
    caught_up(container)
    # then the audit and the worklist say the same of both
    audit = container.views.referral_audit
    rows = {
        str(r["episode_id"]): r for r in views(container)["referral_audit.episodes"]
    }
    a, r = rows[str(amended)], rows[str(right)]
    assert a["metrics"] == r["metrics"]
    assert a["pathway"] == r["pathway"]
    findings = views(container)["referral_audit.findings"]
    by_episode = {
        e: sorted(
            (f["rule"], f["at_version"]) for f in findings if f["episode_id"] == e
        )
        for e in (str(amended), str(right))
    }
    assert by_episode[str(amended)] == by_episode[str(right)]
    tasks = views(container)["worklist.tasks"]
    kinds = {
        e: sorted(t["kind"] for t in tasks if t["episode_id"] == e)
        for e in (str(amended), str(right))
    }
    assert kinds[str(amended)] == kinds[str(right)]
    assert audit is not None


def test_the_feed_says_corrected_and_the_episode_shows_both(container):
    app = container.episodes
    episode = ps.open_episode(app, patient_id="pt-c")
    record(app, episode, cmd.RecordDiagnostic, b.mri(), 1)
    amend(app, episode, 2, {"levels": ["L5-S1"]})
    amend(app, episode, 3, {"findings": "disc bulge L5-S1"})  # amends the amendment
    caught_up(container)
    items = [i for i in views(container)["physician_feed.items"]]
    summaries = [i["summary"] for i in items if i["episode_id"] == str(episode)]
    assert [s.startswith("Corrected: ") for s in summaries] == [
        False,
        False,
        True,
        True,
    ]
    assert "L5-S1" in summaries[-1] and "version 2 amended" in summaries[-1]
    reading = app.get_episode(episode)
    [diagnostic] = reading.section("diagnostics")
    assert diagnostic.data["levels"] == ["L5-S1"]
    assert diagnostic.data["findings"] == "disc bulge L5-S1"
    assert diagnostic.amended_by == (3, 4)
    assert diagnostic.original is not None
    assert diagnostic.original.data["levels"] == ["L4-L5"]
    assert [e.type for e in app.history(episode)] == [
        "ReferralReceived",
        "DiagnosticCompleted",
        "EventAmended",
        "EventAmended",
    ]


# -- erasure -----------------------------------------------------------------------


def seeded_with_the_patient(container) -> list[UUID]:
    app = container.episodes
    load(app, 12, seed=3, anchor=anchor_on(date(2026, 6, 1)))
    theirs = []
    for days in (0, 1):
        episode = ps.open_episode(app, patient_id=ERASED)
        record(app, episode, cmd.RecordDiagnostic, b.mri(findings=TRACE), days + 1)
        record(app, episode, cmd.PerformIntervention, b.esi(), days + 2)
        theirs.append(episode)
    return theirs


def database_text(container) -> str:
    """Every table's every value, as text (bytes decoded loosely)."""
    db = Database(container.episodes)
    with db.reading() as cur:
        if db.dialect.name == "sqlite":
            tables = [
                r["name"]
                for r in cur.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'"
                ).fetchall()
            ]
        else:
            tables = [
                r["table_name"]
                for r in cur.execute(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = current_schema()"
                ).fetchall()
            ]
        chunks = []
        for table in tables:
            for row in cur.execute(f'SELECT * FROM "{table}"').fetchall():
                for value in dict(row).values():
                    if isinstance(value, bytes | memoryview):
                        chunks.append(bytes(value).decode("latin-1"))
                    else:
                        chunks.append(str(value))
    return "\n".join(chunks)


def test_erasure_leaves_the_chain_verified_reads_gone_and_no_trace(container, settings):
    app = container.episodes
    theirs = seeded_with_the_patient(container)
    caught_up(container)
    assert ERASED in database_text(container)
    stored = chained_recorder(app).count_events()
    before = {episode: app.history(episode) for episode in theirs}
    # when the patient is erased
    done = erase_patient(
        app, ERASED, requested_by=AUDITOR, approved_by="aud-2", reason="Art. 17"
    )
    caught_up(container)
    # then each event's version, type and times stay readable, its content not
    for episode in theirs:
        *sealed, last = erased_history(app, episode)
        assert sealed == [
            ErasedEntry(e.version, e.type, e.occurred_at, e.recorded_at, erased=True)
            for e in before[episode]
        ]
        assert (last.type, last.erased) == ("EpisodeErased", False)
        assert last.version == before[episode][-1].version + 1
    # then the events stay, one more each, and the chains verify
    assert sorted(done.episodes) == sorted(theirs)
    assert chained_recorder(app).count_events() == stored + len(theirs)
    assert verify_store(app).ok
    # reads of the patient's episodes are gone
    for episode in theirs:
        with pytest.raises(PatientDataErased):
            app.get_episode(episode)
        with pytest.raises(PatientDataErased):
            app.history(episode)
    # the views hold nothing of them, as a rebuild from scratch holds nothing
    live = views(container)
    for rows in live.values():
        assert not [r for r in rows if r.get("episode_id") in map(str, theirs)]
    for projection in container.projections:
        rebuild(app, settings, projection, options=ps.FAST)
    rebuilt = views(container)
    assert {k: without(v, "position") for k, v in rebuilt.items()} == {
        k: without(v, "position") for k, v in live.items()
    }
    # and nothing in the database names the patient or says what was found
    text = database_text(container)
    assert ERASED not in text
    assert TRACE not in text


def test_a_second_erasure_of_the_patient_finds_nothing(container):
    seeded_with_the_patient(container)
    app = container.episodes
    erase_patient(app, ERASED, requested_by=AUDITOR, approved_by="aud-2", reason="x")
    with pytest.raises(Exception, match="no data of patient"):
        erase_patient(
            app, ERASED, requested_by=AUDITOR, approved_by="aud-2", reason="x"
        )


def test_erasure_needs_a_second_approver(container):
    seeded_with_the_patient(container)
    with pytest.raises(Exception, match="second approver"):
        erase_patient(
            container.episodes,
            ERASED,
            requested_by=AUDITOR,
            approved_by="aud-1",
            reason="x",
        )


# -- data keys -----------------------------------------------------------------------


def key_rows(container) -> list[dict]:
    with Database(container.episodes).reading() as cur:
        return cur.execute("SELECT key_id, patient_ref FROM data_keys").fetchall()


def test_a_new_patients_key_is_stored_in_the_transaction_of_its_first_events(
    settings,
):
    with bootstrap(settings) as container, bootstrap(settings) as other:
        keys = data_keys(container.episodes)
        assert keys is not None
        before = len(key_rows(container))
        # when a process opens the first episode of a new patient
        episode = ps.open_episode(container.episodes, patient_id="pt-new")
        # then the key was written with it: nothing is left to carry, and
        # another process opens the episode at once
        assert keys.rides("?") == []
        assert len(key_rows(container)) == before + 1
        assert other.episodes.get_episode(episode).patient_id == "pt-new"
        # and the patient's next episode, from either process, takes the same key
        ps.open_episode(container.episodes, patient_id="pt-new")
        ps.open_episode(other.episodes, patient_id="pt-new")
        assert len(key_rows(container)) == before + 1


def test_a_key_whose_events_were_not_stored_is_carried_by_the_next_append(
    container,
):
    app = container.episodes
    keys = data_keys(app)
    assert keys is not None
    # given a key made for a new patient whose events never reached the store
    made = keys.key_for_patient("pt-lost-append")
    assert len(keys.rides("?")) == 1
    # when the process appends anything
    ps.open_episode(app, patient_id="pt-another")
    # then the key was stored with it, and erasure finds and deletes it
    assert keys.rides("?") == []
    assert str(made) in {row["key_id"] for row in key_rows(container)}
    assert keys.erase_patient("pt-lost-append", uuid4(), b.at(1)) == [made]


def test_a_batchs_keys_open_with_one_read_and_each_key_still_tells_its_fault(
    settings, monkeypatch
):
    with bootstrap(settings) as writer, bootstrap(settings) as reader:
        made = writer.episodes
        for patient in ("pt-a", "pt-b", "pt-c", "pt-gone"):
            ps.open_episode(made, patient_id=patient)
        written = data_keys(made)
        keys = data_keys(reader.episodes)
        assert written is not None and keys is not None
        a, b_, c, gone = (
            written.key_of_patient(p) for p in ("pt-a", "pt-b", "pt-c", "pt-gone")
        )
        assert None not in (a, b_, c, gone)
        assert written.erase_patient("pt-gone", uuid4(), b.at(1)) == [gone]
        reads = 0
        querying = keys.db.querying

        def counted():
            nonlocal reads
            reads += 1
            return querying()

        monkeypatch.setattr(keys.db, "querying", counted)
        monkeypatch.setattr("infra.keys.PREFETCH_CHUNK", 2)
        # when another process opens a batch naming three live keys, an erased
        # one and one that never existed
        keys.prefetch([a, b_, gone, uuid4(), a])
        # then the four distinct unknown keys took two reads (chunks of two),
        # and keys it holds already take none
        assert reads == 2
        keys.prefetch([a, b_])
        assert reads == 2
        # and the two live keys it read are held: they open with their rows gone
        with Database(made).writing() as cur:
            cur.execute("DELETE FROM data_keys WHERE key_id IN (?, ?, ?)",
                        (str(a), str(b_), str(c)))  # fmt: skip
        keys.cipher(a)
        keys.cipher(b_)
        # while a key it did not read is looked up alone, and an erased key is
        # still told apart from a missing one
        with pytest.raises(SealError, match="missing"):
            keys.cipher(c)
        with pytest.raises(KeyErased):
            keys.cipher(gone)


def test_prefetching_the_keys_of_plain_or_broken_payloads_reads_nothing(
    container, monkeypatch
):
    keys = data_keys(container.episodes)
    assert keys is not None
    asked: list[set[UUID]] = []
    monkeypatch.setattr(keys, "prefetch", lambda ids: asked.append(set(ids)))
    episode = ps.open_episode(container.episodes, patient_id="pt-plain")
    [sealed] = chained_recorder(container.episodes).select_events(episode)
    broken = [
        StoredEvent(sealed.originator_id, 9, sealed.topic, state)
        for state in (b"\x02", b"\x01short", b'{"plain": true}')
    ]
    prefetch_keys(container.episodes, [*broken, sealed])
    # the broken and plain payloads are left for decoding to judge
    assert asked == [{key_id_of(sealed.state)}]


# -- master key rotation -----------------------------------------------------------


def test_rotation_rewraps_the_data_keys_and_the_old_master_retires(settings):
    assert settings.master_key is not None
    old = MasterKey.from_text(settings.master_key.get_secret_value())
    new = MasterKey.generate()
    with bootstrap(settings) as container:
        episode = ps.open_episode(container.episodes, patient_id="pt-rot")
        chain = verify_store(container.episodes).digest
    rotating = settings.model_copy(
        update={
            "master_key": SecretStr(new.text),
            "previous_master_keys": SecretStr(old.text),
        }
    )
    with bootstrap(rotating) as container:
        keys = data_keys(container.episodes)
        assert keys is not None
        assert keys.rotate() >= 2  # the patient's key and the pseudonym secret
        assert set(keys.masters_in_use()) == {new.id}
    retired = settings.model_copy(update={"master_key": SecretStr(new.text)})
    with bootstrap(retired) as container:
        assert container.episodes.get_episode(episode).patient_id == "pt-rot"
        assert verify_store(container.episodes).digest == chain
    with bootstrap(settings) as container, pytest.raises(SealError):
        container.episodes.get_episode(episode)  # the old master opens nothing now
