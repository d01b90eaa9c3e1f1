"""The v2 audit through the engine on SQLite and PostgreSQL: rows, R5 across
episodes, the summary from totals, any text the domain accepts, and the rebuild
from rule set v1 that keeps serving until it switches."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from domain import commands as cmd
from infra.projection import Engine, ReadModels
from infra.views.referral_audit import SqlReferralAuditView
from projections.referral_audit import (
    ReferralAuditProjection,
    ReferralAuditProjectionV1,
    audit_rules,
    report,
)
from projections.referral_audit.tables import EPISODES, FINDINGS
from tests.support import builders as b
from tests.support import projections as ps
from tests.support.fold import expected_views, fold, stored_events
from tests.unit import test_audit_v2_summary as scenarios
from tests.unit import test_audit_v2_treatment_rules as treatment
from tests.unit.audit_support import summary_of_views

NOWS = [b.at(1, hours=5), b.at(1, hours=9), b.at(15), b.at(67), b.at(400)]


@pytest.fixture(params=["payer", "nhs"])
def audit(request) -> ReferralAuditProjection:
    return ReferralAuditProjection(audit_rules(request.param))


def caught_up(store, settings, projection, batch_size: int = 7) -> ReadModels:
    engine = Engine(
        store, settings, [projection], replace(ps.FAST, batch_size=batch_size)
    )
    engine.catch_up()
    engine.close()
    return ReadModels(store, [projection])


def test_the_engine_holds_what_a_fold_of_the_store_holds(store, settings, audit):
    store.save(*scenarios.mixed_set(), *scenarios.small_set())
    reads = caught_up(store, settings, audit)
    assert ps.actual_views(reads, audit) == expected_views(store, audit)


def test_rows_and_summary_read_from_sql_equal_those_of_the_fold(store, settings, audit):
    episodes = [*scenarios.mixed_set(), *scenarios.small_set()]
    store.save(*episodes)
    reads = caught_up(store, settings, audit)
    view = SqlReferralAuditView(reads, audit.rules)
    views = fold(audit, stored_events(store))
    findings = list(views[FINDINGS.name].values())
    for now in NOWS:
        assert view.summary(now) == summary_of_views(views, now, audit.rules)
        for episode in episodes:
            [row] = [
                r
                for r in views[EPISODES.name].values()
                if r["episode_id"] == str(episode.id)
            ]
            mine = [f for f in findings if f["episode_id"] == str(episode.id)]
            found = view.episode(episode.id, now)
            assert found is not None
            assert found[0] == report.audit_row(row, mine, now, audit.rules)


def test_a_fifth_session_in_a_second_episode_is_r5_and_another_patient_is_not(
    store, settings, audit
):
    first = treatment.measured_esis(treatment.noted(), [10, 60, 120, 180])
    later = treatment.measured_esis(treatment.second_episode(200), [240])
    other = treatment.measured_esis(treatment.second_episode(200, "pt-0002"), [240])
    store.save(first, later, other)
    view = SqlReferralAuditView(
        caught_up(store, settings, audit, batch_size=3), audit.rules
    )

    def rules(episode) -> list[tuple[str, str]]:
        found = view.episode(episode.id, b.at(400))
        assert found is not None
        return [(f["rule"], f["scope"]) for f in found[0]["findings"]]

    assert (rules(first), rules(later), rules(other)) == ([], [("R5", "patient")], [])
    page, _ = view.page(replace_filters(rule="R5"), b.at(400), None, 10)
    assert [row["episode_id"] for row in page] == [str(later.id)]


def replace_filters(**changes):
    from projections.referral_audit import AuditFilters

    return AuditFilters(**changes)


# -- any text the domain accepts ------------------------------------------------------

ODD_TEXTS = [
    "pt-" + "é" * 120,
    'dr-"O\'Brien"-🩺-د.أحمد',
    "‏שמואל-כהן‎-🦴-" + "ß" * 40,
    "dr-<script>-&amp;-\\-%-_-'--;DROP",
]


def test_the_audit_stores_every_text_the_domain_accepts(store, settings, audit):
    patient, referrer, surgeon, other = ODD_TEXTS
    names = "Dr \u2018Ōkami\u2019 «Zoë» 李小龍 " + "😀" * 50
    episode = b.opened_episode(
        patient_id=patient,
        referrer={"id": referrer, "name": names, "role": "primary_care"},
        reason="“quoted” — em dash, tab\tand\nnew line, RTL: مرحبا",
    )
    b.record(episode, cmd.ReceiveReferral, b.further_referral(
        referrer={"id": other, "name": names, "role": "concierge"}), days=3)  # fmt: skip
    body = b.surgery_referral(
        surgeon={"id": surgeon, "name": names}, justification="⚕️ " + "x" * 3000
    )
    b.record(episode, cmd.ReferToSurgery, body, days=10)
    store.save(episode)
    reads = caught_up(store, settings, audit)
    [status] = reads.status()
    assert (
        status.last_error is None
        and status.position == store.recorder.max_notification_id()
    )
    view = SqlReferralAuditView(reads, audit.rules)
    found = view.episode(episode.id, b.at(400))
    assert found is not None
    row, referrers = found
    assert (row["patient_id"], row["referrer_id"], referrers) == (
        patient, referrer, {referrer, other},
    )  # fmt: skip
    assert {f["referrer_id"] for f in row["findings"] if f["rule"] == "R10"} == {
        referrer, other,
    }  # fmt: skip
    summary = view.summary(b.at(400))
    assert [c.key for c in summary.by_surgeon] == [surgeon]
    assert sorted(c.key for c in summary.by_referrer) == sorted([referrer, other])
    assert ps.actual_views(reads, audit) == expected_views(store, audit)


# -- the rebuild from rule set v1 ------------------------------------------------------


def test_the_rebuild_from_v1_keeps_serving_v1_rows_until_v2_has_caught_up(
    store, settings
):
    episodes = [*scenarios.mixed_set(), *scenarios.small_set()]
    store.save(*episodes)
    v1 = ReferralAuditProjectionV1(audit_rules("payer", version=1))
    caught_up(store, settings, v1)
    v2 = ReferralAuditProjection(audit_rules("payer"))
    reads = ReadModels(store, [v2])
    view = SqlReferralAuditView(reads, v2.rules)
    engine = Engine(store, settings, [v2], replace(ps.FAST, batch_size=5))
    try:
        # when the new version has done one batch beside the serving one
        assert engine.run_once()
        roles = {g.version: g.role for g in reads_generations(store)}
        assert roles == {v1.version: "serving", v2.version: "building"}
        # then the v1 rows still answer, list, episode and summary alike
        now = b.at(400)
        rows, _ = view.page(replace_filters(flagged_only=False), now, None, 100)
        assert {r["rules_version"] for r in rows} == {1} and len(rows) == len(episodes)
        assert view.summary(now).rules_version == 1
        found = view.episode(episodes[0].id, now)
        assert found is not None and found[0]["rules_version"] == 1
        # and once it has caught up, the rows switch to rule set v2
        engine.catch_up()
    finally:
        engine.close()
    rows, _ = view.page(replace_filters(flagged_only=False), now, None, 100)
    assert {r["rules_version"] for r in rows} == {2} and len(rows) == len(episodes)
    assert view.summary(now).rules_version == 2
    assert ps.actual_views(reads, v2) == expected_views(store, v2)


def reads_generations(store):
    from infra.database import Database
    from infra.projection.registry import Registry

    return Registry(Database(store)).load([ReferralAuditProjection.name])


def test_an_empty_audit_answers_a_summary_of_nothing(store, settings, audit):
    view = SqlReferralAuditView(caught_up(store, settings, audit), audit.rules)
    summary = view.summary(datetime.now().astimezone())
    assert (summary.episodes, summary.flagged, summary.by_referrer) == (0, 0, ())
    assert summary.metrics.median_days_to_surgery_referral is None


# -- every v2 change through SQL: fires, just misses, exempt ------------------------------

from tests.unit import test_audit_v2_deadline_rules as dl  # noqa: E402
from tests.unit import test_audit_v2_surgery_rules as sg  # noqa: E402
from tests.unit.audit_support import loop_episode, referred, worked_up  # noqa: E402

SCENARIOS = {
    "1 fires: a looped elective referral before a red-flag one": (
        lambda: sg.fracture_later(referred(loop_episode(), 60)), {"R1", "R2", "R3", "R4"}),
    "1 exempt: the red-flag referral alone": (
        lambda: sg.fracture_later(loop_episode()), set()),
    "2 fires: a suspicion ruled out": (
        lambda: referred(sg.screened(sg.suspected_fracture(), 3), 70, urgency="urgent"),
        {"R1", "R2", "R3", "R4"}),
    "2 exempt: a suspicion still standing": (
        lambda: referred(sg.suspected_fracture(), 70, urgency="urgent"), set()),
    "3 fires: an exam names the generator": (
        lambda: referred(sg.exam_named(loop_episode()), 70), {"R1", "R2", "R3", "R4"}),
    "3 misses: the loop worked up": (
        lambda: referred(worked_up(loop_episode()), 70), set()),
    "4 fires: the ESI detour with a known generator": (
        lambda: referred(sg.identified_first(), 70), {"R1"}),
    "5 fires: infection answered by an X-ray": (lambda: dl.infection("xray"), {"R9"}),
    "5 misses: infection answered by an MRI": (lambda: dl.infection("mri"), set()),
    "6 fires: a consult note on day 30": (lambda: dl.noted_on(30), {"R10"}),
    "6 misses: a consult note on day 14": (lambda: dl.noted_on(14), set()),
    "9 fires: a fifth session": (
        lambda: treatment.measured_esis(treatment.noted(), [10, 60, 120, 180, 240]),
        {"R5"}),
    "9 misses: four sessions of two levels": (
        lambda: treatment.measured_esis(treatment.noted(), [10, 60, 120, 180], 2), set()),
    "9 misses: an MRI six calendar months before": (
        lambda: sg.imaged_then_referred(sg.date(2026, 9, 3)), set()),
    "10 fires: urgency alone": (
        lambda: referred(loop_episode(), 70, urgency="urgent"), {"R1", "R2", "R3", "R4"}),
    "R11 fires: closed for surgery without a referral": (
        lambda: dl.b.record(dl.noted_on(2), cmd.CloseEpisode,
                            b.closure(reason="surgery"), days=40),
        {"R11"}),
}  # fmt: skip


def test_every_v2_scenario_reads_back_from_sql_with_its_exact_findings(
    store, settings, audit, monkeypatch
):
    built = {}
    for number, (name, (build, _)) in enumerate(SCENARIOS.items()):
        # each scenario its own patient, so R5 counts only its own sessions
        referral = b.referral
        monkeypatch.setattr(
            b,
            "referral",
            lambda n=number, r=referral, **o: r(**{"patient_id": f"pt-{n}", **o}),
        )
        built[name] = build()
        monkeypatch.setattr(b, "referral", referral)
    store.save(*built.values())
    view = SqlReferralAuditView(caught_up(store, settings, audit), audit.rules)
    seen = {}
    for name, episode in built.items():
        found = view.episode(episode.id, b.at(400))
        assert found is not None
        seen[name] = {f["rule"] for f in found[0]["findings"]}
    assert seen == {name: expected for name, (_, expected) in SCENARIOS.items()}
