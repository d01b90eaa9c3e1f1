"""LBP-IMG on SQLite and PostgreSQL: who is in the denominator, who is excluded,
who avoided imaging, and the edge of every window (28 days, 6 months, 18-75)."""

from __future__ import annotations

from datetime import timedelta

from domain import commands as cmd
from tests.integration.measures_support import (  # noqa: F401
    LATER,
    Practice,
    practice_fixture,
    roles,
)
from tests.support import builders as b

LBP = "LBP-IMG"


def test_an_episode_without_imaging_in_28_days_is_in_the_numerator(
    practice: Practice,
):
    ep = practice.open()
    practice.do(ep, cmd.RecordDiagnostic, b.mri(), days=29)
    practice.do(ep, cmd.RecordDiagnostic, b.mri(kind="xray"), days=40)
    row = practice.decision(LBP, ep)
    assert (row["status"], row["exclusion"]) == ("numerator", None)
    assert roles(row) == [("opening", 1)]
    assert row["deciding"][0]["position"] is not None


def test_imaging_on_day_28_counts_and_on_day_29_does_not(practice: Practice):
    day_28 = practice.open(patient_id="pt-a")
    practice.do(day_28, cmd.RecordDiagnostic, b.mri(kind="ct"), days=28, hours=14)
    day_29 = practice.open(patient_id="pt-b")
    practice.do(day_29, cmd.RecordDiagnostic, b.mri(kind="ct"), days=29)
    assert practice.decided(LBP) == {
        day_28: ("denominator", None),
        day_29: ("numerator", None),
    }
    assert roles(practice.decision(LBP, day_28)) == [("opening", 1), ("imaging", 2)]


def test_an_xray_counts_as_imaging_and_an_emg_does_not(practice: Practice):
    xray = practice.open(patient_id="pt-a")
    practice.do(xray, cmd.RecordDiagnostic, b.mri(kind="xray"), days=3)
    emg = practice.open(patient_id="pt-b")
    practice.do(emg, cmd.RecordDiagnostic, b.mri(kind="emg_ncs"), days=3)
    assert practice.decided(LBP) == {
        xray: ("denominator", None),
        emg: ("numerator", None),
    }


def test_the_decision_is_pending_until_the_28th_day_has_ended(practice: Practice):
    ep = practice.open()
    due = b.at(29).replace(hour=0)  # T0 is 09:00 UTC; day 28 ends at midnight
    before = practice.decision(LBP, ep, now=due - timedelta(microseconds=1))
    assert (before["status"], before["due_at"]) == ("pending", due)
    assert before["final"]["status"] == "numerator"
    after = practice.decision(LBP, ep, now=due)
    assert (after["status"], after["final"]) == ("numerator", None)


def test_imaging_within_the_window_is_still_pending_until_it_closes(
    practice: Practice,
):
    ep = practice.open()
    practice.do(ep, cmd.RecordDiagnostic, b.mri(), days=2)
    assert practice.decided(LBP, now=b.at(10)) == {ep: ("pending", None)}
    assert practice.decided(LBP, now=b.at(30)) == {ep: ("denominator", None)}


def test_a_red_flag_standing_in_the_28_days_excludes_the_episode(practice: Practice):
    on_referral = practice.open(patient_id="pt-a", red_flags=["infection"])
    practice.do(on_referral, cmd.ScreenRedFlags, b.screening(), hours=2)
    practice.do(on_referral, cmd.RecordDiagnostic, b.mri(), days=1)
    day_28 = practice.open(patient_id="pt-b")
    practice.do(day_28, cmd.ScreenRedFlags, b.screening(flags=["fracture"]), days=28)
    day_29 = practice.open(patient_id="pt-c")
    practice.do(day_29, cmd.ScreenRedFlags, b.screening(flags=["fracture"]), days=29)
    assert practice.decided(LBP) == {
        on_referral: ("excluded", "red_flag"),
        day_28: ("excluded", "red_flag"),
        day_29: ("numerator", None),
    }
    assert roles(practice.decision(LBP, day_28)) == [("opening", 1), ("red_flag", 2)]


def test_a_radicular_presentation_with_a_progressive_deficit_names_its_exclusion(
    practice: Practice,
):
    flags = b.screening(flags=["progressive_neuro_deficit"])
    radicular = practice.open(patient_id="pt-a", presentation="radicular")
    practice.do(radicular, cmd.ScreenRedFlags, flags, days=5)
    axial = practice.open(patient_id="pt-b", presentation="axial")
    practice.do(axial, cmd.ScreenRedFlags, flags, days=5)
    assert practice.decided(LBP) == {
        radicular: ("excluded", "radicular_progressive_deficit"),
        axial: ("excluded", "red_flag"),
    }


def test_only_adults_18_to_75_with_low_back_pain_are_in_the_denominator(
    practice: Practice,
):
    youngest = practice.open(patient_id="pt-a", age_band="18-34")
    oldest = practice.open(patient_id="pt-b", age_band="65-75")
    child = practice.open(patient_id="pt-c", age_band="0-17")
    elder = practice.open(patient_id="pt-d", age_band="76+")
    unknown = practice.open(patient_id="pt-e", age_band=None)
    stenosis = practice.open(patient_id="pt-f", presentation="claudication")
    unstated = practice.open(patient_id="pt-g", presentation=None)
    assert practice.decided(LBP) == {
        youngest: ("numerator", None),
        oldest: ("numerator", None),
        child: ("not_eligible", None),
        elder: ("not_eligible", None),
        unknown: ("not_eligible", None),
        stenosis: ("not_eligible", None),
        unstated: ("numerator", None),
    }
    assert "no age band" in practice.decision(LBP, unknown)["reason"]


def test_a_prior_episode_in_the_6_months_before_takes_the_next_one_out(
    practice: Practice,
):
    # T0 is 2 March 2026: 6 calendar months before 2 September is 2 March.
    prior = practice.open(patient_id="pt-a")
    practice.do(prior, cmd.CloseEpisode, b.closure(), days=10)
    within = practice.open(patient_id="pt-a", days=184)  # 2 September 2026
    lapsed = practice.open(patient_id="pt-b")
    practice.do(lapsed, cmd.CloseEpisode, b.closure(), days=10)
    # 13 September 2026: the lookback starts on 13 March, after pt-b's closure.
    after = practice.open(patient_id="pt-b", days=195)
    decided = practice.decided(LBP)
    assert {ep: decided[ep] for ep in (within, after)} == {
        within: ("not_eligible", None),
        after: ("numerator", None),
    }
    row = practice.decision(LBP, within)
    assert roles(row) == [("opening", 1), ("prior_episode", 1)]
    assert row["deciding"][1]["episode_id"] == str(prior)


def test_an_episode_still_open_from_long_before_counts_as_prior(practice: Practice):
    old = practice.open(patient_id="pt-a")
    later = practice.open(patient_id="pt-a", days=400)
    assert practice.decided(LBP) == {
        old: ("numerator", None),
        later: ("not_eligible", None),
    }


def test_a_prior_episode_recorded_late_changes_the_decision(practice: Practice):
    later = practice.open(patient_id="pt-a", days=100)
    assert practice.decided(LBP) == {later: ("numerator", None)}
    earlier = practice.open(patient_id="pt-a", days=20)
    assert practice.decided(LBP) == {
        earlier: ("numerator", None),
        later: ("not_eligible", None),
    }
    assert practice.matches_a_fold()


def test_a_decision_is_anchored_and_counted_by_its_opening_month(practice: Practice):
    ep = practice.open(days=30)  # 1 April 2026
    row = practice.decision(LBP, ep)
    assert (row["anchor_at"], row["period"]) == (b.at(30), "2026-04")
    assert row["due_at"] < LATER
    [report] = practice.summary(measures=(LBP,)).measures
    assert [(r.key, r.numerator, r.denominator) for r in report.by_period] == [
        ("2026-04", 1, 1)
    ]


def test_an_amended_age_band_on_the_opening_referral_is_judged_as_corrected(
    practice: Practice,
):
    ep = practice.open(age_band=None)
    assert practice.decided(LBP) == {ep: ("not_eligible", None)}
    correction = {
        "amends_version": 1,
        "fields": {"age_band": "50-64"},
        "reason": "age band left out at intake",
    }
    version = practice.do(ep, cmd.AmendEvent, correction, days=2)
    row = practice.decision(LBP, ep)
    assert (row["status"], row["exclusion"]) == ("numerator", None)
    assert roles(row) == [("opening", 1)]
    amended_by = row["deciding"][0]["amended_by"]
    assert (version, amended_by["version"]) == (2, 2)
    assert amended_by["position"] is not None
    assert practice.matches_a_fold()
