"""Episodes walked through the pathway on SQLite and PostgreSQL, the open tasks
checked through the SQL view after every event, and the views equal to a fold."""

from __future__ import annotations

from uuid import UUID

from domain import commands as cmd
from infra.projection import rebuild
from tests.integration.worklist_support import Clinic, clinic_fixture  # noqa: F401
from tests.support import builders as b
from tests.support import projections as ps

SURGEON = {"id": "dr-ss-1", "name": "Dr Surgeon", "role": "spine_surgery"}
CONCIERGE = {"id": "dr-cc-1", "name": "Dr Concierge", "role": "concierge"}
OPENING = {
    ("screening_due", "episode"),
    ("baseline_outcome_due", "episode"),
    ("consult_note_due", "dr-pc-1"),
}


def follow_ups(version: int, *labels: str) -> set[tuple[str, str]]:
    return {("outcome_due", f"{version}:{label}") for label in labels}


def test_a_regenerative_pathway_opens_and_closes_each_task_in_turn(clinic: Clinic):
    ep = clinic.open(receiving_service="pain_medicine")
    assert clinic.tasks(ep) == OPENING
    clinic.do(ep, cmd.AssignClinician, b.assignment(), hours=1)
    assert {t["assignee"] for t in clinic.page(episode_id=ep)} == {"clin-ana"}
    clinic.do(ep, cmd.ScreenRedFlags, b.screening(), days=1)
    opened = OPENING - {("screening_due", "episode")}
    assert clinic.tasks(ep) == opened | {("diagnostics_due", "episode")}
    clinic.do(ep, cmd.RecordOutcome, b.outcome(), days=2)
    opened -= {("baseline_outcome_due", "episode")}
    assert clinic.tasks(ep) == opened | {("diagnostics_due", "episode")}
    clinic.do(ep, cmd.RecordDiagnostic, b.mri(), days=5)
    clinic.do(ep, cmd.RecordDiagnostic, b.medial_branch_block(85), days=10)
    assert clinic.tasks(ep) == opened | {("diagnostics_due", "episode")}
    clinic.do(ep, cmd.RecordDiagnostic, b.medial_branch_block(90), days=20)
    assert clinic.tasks(ep) == opened | {("plan_due", "facet")}
    clinic.do(ep, cmd.PlanTreatment, b.plan(), days=22)
    assert clinic.tasks(ep) == opened
    clinic.do(ep, cmd.SendConsultNote, b.consult_note(), days=23)
    assert clinic.tasks(ep) == set()
    prp = clinic.store.handle(
        b.command(cmd.AdministerBiologic, ep, b.prp(), days=30), actor=b.CLINICIAN
    ).version
    clinic.engine.catch_up()
    points = {"2w": 14, "6w": 42, "3m": 90, "6m": 180, "12m": 365}
    waiting = set(points)
    assert clinic.tasks(ep) == follow_ups(prp, *waiting)
    for label, day in points.items():
        score = b.outcome(score=30, follows_version=prp)
        clinic.do(ep, cmd.RecordOutcome, score, days=30 + day)
        waiting.remove(label)  # an outcome in one window closes exactly that point
        assert clinic.tasks(ep) == follow_ups(prp, *waiting)
    assert clinic.matches_a_fold()


def test_a_red_flag_referral_puts_urgent_triage_first_until_surgery_answers_it(
    clinic: Clinic,
):
    clinic.open(patient_id="pt-early")  # an older episode with earlier due tasks
    ep = clinic.open(days=3, red_flags=["cauda_equina"], receiving_service="emergency")
    assert clinic.tasks(ep) == OPENING | {("red_flag_triage", "cauda_equina")}
    first = clinic.page(limit=1)[0]
    assert (first["kind"], first["episode_id"], first["priority"]) == (
        "red_flag_triage",
        str(ep),
        "urgent",
    )
    clinic.do(
        ep, cmd.ScreenRedFlags, b.screening(flags=["cauda_equina"]), days=3, hours=1
    )
    assert clinic.tasks(ep) == OPENING - {("screening_due", "episode")} | {
        ("red_flag_triage", "cauda_equina")
    }
    emergent = b.surgery_referral(urgency="emergent", indication="red_flag")
    clinic.do(ep, cmd.ReferToSurgery, emergent, days=3, hours=2)
    surgical = {
        ("consult_note_due", "dr-ss-1"),
        ("surgical_consult_pending", "dr-ss-1"),
    }
    opened = OPENING - {("screening_due", "episode")}
    assert clinic.tasks(ep) == opened | surgical
    clinic.do(
        ep, cmd.SendConsultNote, b.consult_note(to_physician_id="dr-ss-1"), days=4
    )
    assert clinic.tasks(ep) == opened | {("surgical_consult_pending", "dr-ss-1")}
    back = b.further_referral(referrer=SURGEON, receiving_service="pain_medicine")
    clinic.do(ep, cmd.ReceiveReferral, back, days=10)
    assert clinic.tasks(ep) == opened
    clinic.do(ep, cmd.CloseEpisode, b.closure(reason="surgery"), days=12)
    assert clinic.tasks(ep) == set()
    assert clinic.matches_a_fold()


def test_a_screen_ruling_the_flag_out_closes_triage_and_asks_for_diagnostics(
    clinic: Clinic,
):
    ep = clinic.open(red_flags=["infection", "fracture"])
    assert clinic.tasks(ep) == OPENING | {
        ("red_flag_triage", "infection"),
        ("red_flag_triage", "fracture"),
    }
    clinic.do(ep, cmd.ScreenRedFlags, b.screening(flags=["fracture"]), hours=3)
    assert clinic.tasks(ep) == OPENING - {("screening_due", "episode")} | {
        ("red_flag_triage", "fracture")
    }
    clinic.do(ep, cmd.ScreenRedFlags, b.screening(), days=1)
    assert clinic.tasks(ep) == OPENING - {("screening_due", "episode")} | {
        ("diagnostics_due", "episode")
    }
    assert clinic.matches_a_fold()


def test_consult_notes_are_owed_to_each_referrer_and_close_one_by_one(clinic: Clinic):
    ep = clinic.open()
    clinic.do(ep, cmd.ReceiveReferral, b.further_referral(referrer=CONCIERGE), days=2)
    notes = {("consult_note_due", "dr-pc-1"), ("consult_note_due", "dr-cc-1")}
    assert {t for t in clinic.tasks(ep) if t[0] == "consult_note_due"} == notes
    clinic.do(
        ep, cmd.SendConsultNote, b.consult_note(to_physician_id="dr-cc-1"), days=3
    )
    assert {t for t in clinic.tasks(ep) if t[0] == "consult_note_due"} == {
        ("consult_note_due", "dr-pc-1")
    }
    clinic.do(ep, cmd.SendConsultNote, b.consult_note(), days=4)
    assert {t for t in clinic.tasks(ep) if t[0] == "consult_note_due"} == set()
    assert clinic.matches_a_fold()


def test_late_recorded_events_open_and_close_the_tasks_of_when_they_happened(
    clinic: Clinic,
):
    ep = clinic.open(receiving_service="pain_medicine")
    clinic.do(ep, cmd.SendConsultNote, b.consult_note(), days=1)
    esi = clinic.do(ep, cmd.PerformIntervention, b.esi(), days=10)
    assert clinic.tasks(ep) == {
        ("screening_due", "episode"),
        ("baseline_outcome_due", "episode"),
        ("outcome_due", "3:6w"),
    }
    assert esi > 0
    # recorded now, happened on day 3: a baseline before the ESI after all
    clinic.do(ep, cmd.RecordOutcome, b.outcome(), days=3)
    assert clinic.tasks(ep) == {("screening_due", "episode"), ("outcome_due", "3:6w")}
    # an MRI identifying the generator, then the screening that preceded it
    clinic.do(ep, cmd.RecordDiagnostic, b.mri(pain_generator="radicular"), days=12)
    clinic.do(ep, cmd.ScreenRedFlags, b.screening(), days=2)
    assert clinic.tasks(ep) == {("plan_due", "radicular"), ("outcome_due", "3:6w")}
    # a plan recorded late, on the day of the MRI, answers it
    clinic.do(ep, cmd.PlanTreatment, b.plan(), days=12, hours=1)
    assert clinic.tasks(ep) == {("outcome_due", "3:6w")}
    assert clinic.matches_a_fold()


def test_closure_closes_every_open_task_of_the_episode_and_no_other(clinic: Clinic):
    ep = clinic.open(red_flags=["fracture"])
    other = clinic.open(patient_id="pt-other")
    clinic.do(ep, cmd.AdministerBiologic, b.prp(), days=1)
    clinic.do(ep, cmd.ReferToSurgery, b.surgery_referral(), days=2)
    clinic.do(ep, cmd.CloseEpisode, b.closure(), days=3)
    assert clinic.tasks(ep) == set()
    assert clinic.tasks(other) == OPENING
    assert {row["episode_id"] for row in clinic.rows()} == {str(other)}
    assert clinic.matches_a_fold()


def test_a_new_assignment_moves_every_open_task_to_the_new_clinician(clinic: Clinic):
    ep: UUID = clinic.open()
    clinic.do(ep, cmd.AssignClinician, b.assignment(), days=1)
    bo = b.assignment(clinician_id="clin-bo", clinician_name="Bo Clinician")
    clinic.do(ep, cmd.AssignClinician, bo, days=2)
    assert {(t["assignee"], t["assignee_name"]) for t in clinic.page()} == {
        ("clin-bo", "Bo Clinician")
    }
    assert clinic.page(assignee="clin-ana") == []
    assert clinic.matches_a_fold()


def test_batches_spanning_episodes_and_a_rebuild_give_the_rows_of_a_fold(
    clinic: Clinic, settings
):
    # given many events recorded before the worklist catches up (batches of 7)
    store = clinic.store
    for n in range(4):
        opening = cmd.OpenEpisode(
            occurred_at=b.at(n),
            **b.referral(patient_id=f"pt-{n}", red_flags=["fracture"]),
        )
        ep = store.handle(opening, actor=b.SERVICE).episode_id
        for command_type, body, day in (
            (cmd.AssignClinician, b.assignment(), n + 0.5),
            (cmd.ScreenRedFlags, b.screening(), n + 1),
            (cmd.AdministerBiologic, b.prp(), n + 3),
            (cmd.RecordOutcome, b.outcome(follows_version=4), n + 20),
            (cmd.RecordOutcome, b.outcome(), n + 2),  # late-recorded baseline
        ):
            store.handle(b.command(command_type, ep, body, day), actor=b.CLINICIAN)
    # when
    clinic.engine.catch_up()
    # then
    assert clinic.matches_a_fold()
    rows = clinic.rows()
    rebuild(store, settings, clinic.projection, options=ps.FAST)
    assert clinic.rows() == rows
    assert clinic.matches_a_fold()
