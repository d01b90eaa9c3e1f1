"""Audit replays over a real store (SQLite and PostgreSQL): the replayed row is the
projection's row, now and at every earlier version; the timeline of the seed's
broken pipeline; the evidence packet's chain links verify."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from domain import commands as cmd
from infra.access_log import AccessLog
from infra.audit_replay import AuditReplays, check_evidence
from infra.cli import app as cli
from infra.database import Database
from infra.demo import load, plans
from infra.episode_index import EpisodeIndex
from infra.projection import Engine, ReadModels
from infra.verify import verify_store
from infra.views.referral_audit import SqlReferralAuditView
from projections.referral_audit import ReferralAuditProjection, audit_rules
from projections.referral_audit.replay import Cut
from tests.support import builders as b
from tests.support import projections as ps
from tests.unit import test_audit_v2_summary as scenarios

NOW = b.at(270)  # a reader's clock: before today, after every clinical time below


@pytest.fixture(params=["payer", "nhs"])
def audit(request) -> ReferralAuditProjection:
    return ReferralAuditProjection(audit_rules(request.param))


@pytest.fixture
def engine(store, settings, audit):
    running = Engine(store, settings, [audit], replace(ps.FAST, batch_size=5))
    yield running
    running.close()


def replays_of(store, audit) -> AuditReplays:
    return AuditReplays(store, EpisodeIndex(Database(store)), audit.rules)


def served(engine, store, audit) -> SqlReferralAuditView:
    engine.catch_up()
    return SqlReferralAuditView(ReadModels(store, [audit]), audit.rules)


def test_the_replay_at_the_head_is_the_projections_row(store, audit, engine):
    episodes = [*scenarios.mixed_set(), *scenarios.small_set()]
    store.record(*episodes)
    view = served(engine, store, audit)
    replays = replays_of(store, audit)
    for episode in episodes:
        found = view.episode(episode.id, NOW)
        assert found is not None
        assert replays.replay(episode.id).audit_row(NOW) == found[0]


def handle(store, command_type, episode_id, body, days):
    command = b.command(command_type, episode_id, body, days=days)
    return store.handle(command, actor=b.SERVICE)


def test_the_replay_at_each_version_is_what_the_projection_held_then(
    store, audit, engine
):
    # given two episodes of one patient written command by command, the fifth
    # ESI session (R5) coming from the first episode after the second's
    first = store.handle(
        cmd.OpenEpisode(occurred_at=b.at(0), **b.referral()), actor=b.SERVICE
    )
    a = first.episode_id
    steps = [
        (a, cmd.SendConsultNote, b.consult_note(), 1),
        (a, cmd.RecordOutcome, b.outcome(score=46), 9),
        (a, cmd.PerformIntervention, b.esi(), 10),
        ("open", None, None, 200),
        (a, cmd.PerformIntervention, b.esi(), 60),
        ("b", cmd.SendConsultNote, b.consult_note(), 201),
        (a, cmd.PerformIntervention, b.esi(), 120),
        ("b", cmd.PerformIntervention, b.esi(), 240),
        (a, cmd.PerformIntervention, b.esi(), 180),
        (a, cmd.ReferToSurgery, b.surgery_referral(), 250),
    ]
    view = served(engine, store, audit)
    held = {(a, 1): view.episode(a, NOW)[0]}
    instants = [(datetime.now(UTC), {a: held[(a, 1)]})]
    second = None
    for target, command_type, body, days in steps:
        if target == "open":
            opening = cmd.OpenEpisode(occurred_at=b.at(days), **b.referral())
            result = store.handle(opening, actor=b.SERVICE)
            second = result.episode_id
        else:
            episode_id = second if target == "b" else target
            result = handle(store, command_type, episode_id, body, days)
        # when the projection has caught up, what it holds of each episode
        view = served(engine, store, audit)
        held[(result.episode_id, result.version)] = view.episode(
            result.episode_id, NOW
        )[0]
        rows = {e: view.episode(e, NOW)[0] for e in (a, second) if e is not None}
        instants.append((datetime.now(UTC), rows))
    replays = replays_of(store, audit)
    # then each replay at a version is the row the projection held after it
    for (episode_id, version), row in held.items():
        replayed = replays.replay(episode_id, Cut(version=version))
        assert replayed.audit_row(NOW) == row, (episode_id, version)
    # and each replay as of an instant is every row the projection held then
    for instant, rows in instants:
        for episode_id, row in rows.items():
            assert replays.replay(episode_id, Cut(as_of=instant)).audit_row(NOW) == row
    final = {f["rule"] for f in view.episode(second, NOW)[0]["findings"]}
    assert "R5" in final


def broken_pipelines(store, count: int = 40, seed: int = 11):
    anchor = datetime(2026, 11, 20, 8, tzinfo=UTC)
    load(store, count, seed, anchor=anchor)
    return [
        p.episode_id
        for p in plans(count, seed, anchor)
        if p.pathway == "broken_pipeline"
    ]


def test_the_seeds_broken_pipeline_shows_r1_to_r4_appearing_at_the_surgery_referral(
    store, audit
):
    replays = replays_of(store, audit)
    referred = 0
    for episode_id in broken_pipelines(store):
        steps = replays.timeline(episode_id)
        at_referral = [s for s in steps if s.type == "SurgeryReferred"]
        if not at_referral:
            continue  # still under way: its surgery referral has not happened yet
        referred += 1
        [step] = at_referral
        assert {f["rule"] for f in step.appeared} == {"R1", "R2", "R3", "R4"}
        assert {f["at_version"] for f in step.appeared} == {step.version}
        assert not step.cleared
    assert referred >= 2


def test_the_evidence_packets_chain_links_verify(store, audit):
    [episode_id, *_] = broken_pipelines(store, count=12, seed=5)
    packet = replays_of(store, audit).evidence(episode_id, NOW)
    heads = verify_store(store).heads
    assert check_evidence(packet) == []
    assert check_evidence(packet, heads) == []
    last = packet["history"][-1]
    assert packet["chain"]["head"] == {
        "version": last["version"],
        "link": last["chain"]["link"],
    }
    assert packet["chain"]["store_head"] == packet["chain"]["head"]
    assert heads[str(episode_id)] == (last["version"], last["chain"]["link"])


def test_a_changed_packet_no_longer_verifies(store, audit):
    [episode_id, *_] = broken_pipelines(store, count=12, seed=5)
    packet = replays_of(store, audit).evidence(episode_id, NOW)
    packet["history"][1]["chain"]["state_sha256"] = "0" * 64
    assert check_evidence(packet) == ["v2: the link does not match what it covers"]
    other = replays_of(store, audit).evidence(episode_id, NOW)
    wrong = {str(episode_id): (2, "ab" * 32)}
    assert check_evidence(other, wrong) == [
        "v2: the link differs from the one verify saved"
    ]


def test_a_packet_at_an_earlier_version_ends_its_chain_there(store, audit):
    [episode_id, *_] = broken_pipelines(store, count=12, seed=5)
    packet = replays_of(store, audit).evidence(episode_id, NOW, cut=Cut(version=2))
    assert [e["version"] for e in packet["history"]] == [1, 2]
    assert packet["chain"]["head"]["version"] == 2
    assert packet["chain"]["store_head"]["version"] > 2
    assert check_evidence(packet, verify_store(store).heads) == []


# -- the command line -------------------------------------------------------------


@pytest.fixture
def run(settings):
    return lambda *args: CliRunner().invoke(cli, ["audit", *args], obj=settings)


def loop(app):
    opening = cmd.OpenEpisode(occurred_at=b.at(0), **b.referral())
    episode_id = app.handle(opening, actor=b.SERVICE).episode_id
    for command_type, body, days in [
        (cmd.ReceiveReferral, b.further_referral(), 7),
        (cmd.PerformIntervention, b.esi(), 14),
        (cmd.ReferToSurgery, b.surgery_referral(), 40),
    ]:
        handle(app, command_type, episode_id, body, days)
    return episode_id


def test_the_replay_command_prints_the_row_at_a_version(app, run):
    episode_id = loop(app)
    at_head = run("replay", str(episode_id), "--json")
    assert at_head.exit_code == 0, at_head.output
    assert {f["rule"] for f in json.loads(at_head.output)["findings"]} >= {
        "R1", "R2", "R3", "R4",
    }  # fmt: skip
    early = run("replay", str(episode_id), "--version", "2", "--rules", "nhs")
    assert early.exit_code == 0, early.output
    assert "at v2" in early.output and "nhs profile" in early.output
    assert "surgeon_pain_surgeon_loop" not in early.output


def test_the_replay_command_prints_the_timeline(app, run):
    episode_id = loop(app)
    result = run("replay", str(episode_id), "--timeline", "--json")
    assert result.exit_code == 0, result.output
    steps = json.loads(result.output)
    assert [s["type"] for s in steps][-1] == "SurgeryReferred"
    assert {f["rule"] for f in steps[-1]["appeared"]} == {"R1", "R2", "R3", "R4"}


def test_the_evidence_written_by_the_command_checks_and_a_changed_one_fails(
    app, run, tmp_path
):
    episode_id = loop(app)
    path = tmp_path / "packet.json"
    written = run("replay", str(episode_id), "--evidence", str(path))
    assert written.exit_code == 0, written.output
    checked = run("check-evidence", str(path))
    assert checked.exit_code == 0, checked.output
    assert "checked 4 chain links" in checked.output and "OK" in checked.output
    packet = json.loads(path.read_text())
    packet["history"][0]["chain"]["topic"] = "domain.events:Forged"
    path.write_text(json.dumps(packet))
    failed = run("check-evidence", str(path))
    assert failed.exit_code == 1 and "v1: the link does not match" in failed.output


def test_the_replay_command_refuses_what_it_cannot_do(app, run):
    episode_id = loop(app)
    assert run("replay", "not-an-id").exit_code == 2
    unknown = run("replay", str(episode_id), "--version", "9")
    assert unknown.exit_code == 2 and "has no version 9" in unknown.output
    assert run("replay", str(episode_id), "--rules", "medicare").exit_code == 2
    assert run("replay", str(episode_id), "--as-of", "2026-05-01").exit_code == 2


def test_a_replay_in_the_terminal_is_in_the_access_log(app, run):
    episode_id = loop(app)
    assert run("replay", str(episode_id)).exit_code == 0
    entries = AccessLog(app).entries(episode_id=episode_id)
    assert [(e.action, e.role, e.outcome) for e in entries] == [
        ("CLI audit replay", "operator", "disclosed")
    ]
