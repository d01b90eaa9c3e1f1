"""`care-episodes audit report`: the audit summary as a terminal table and as CSV."""

from __future__ import annotations

import csv

import pytest
from typer.testing import CliRunner

from domain import commands as cmd
from infra.cli import app as cli
from tests.support import builders as b


@pytest.fixture
def report(settings):
    """Run `care-episodes audit report …` on the test store."""
    return lambda *args: CliRunner().invoke(
        cli, ["audit", "report", *args], obj=settings
    )


def seed(app) -> None:
    """One episode round the loop (surgeon, ESI, surgeon) and one that is not."""
    opening = cmd.OpenEpisode(occurred_at=b.at(0), **b.referral())
    episode_id = app.handle(opening, actor=b.SERVICE).episode_id
    loop = [
        (cmd.ReceiveReferral, b.further_referral(), 7),
        (cmd.PerformIntervention, b.esi(), 14),
        (cmd.ReferToSurgery, b.surgery_referral(), 40),
    ]
    for command_type, body, days in loop:
        command = b.command(command_type, episode_id, body, days=days)
        app.handle(command, actor=b.SERVICE)
    other = b.referral(receiving_service="pain_medicine")
    app.handle(cmd.OpenEpisode(occurred_at=b.at(1), **other), actor=b.SERVICE)


def test_the_report_prints_counts_per_rule_and_says_how_fresh_it_is(app, report):
    seed(app)
    result = report()
    assert result.exit_code == 0, result.output
    assert "Referral-loop audit: 2 episodes" in result.output
    r1 = next(
        line
        for line in result.output.splitlines()
        if "R1 surgeon_pain_surgeon_loop" in line
    )
    # episodes, flagged, findings, rate (a percentage in the terminal)
    assert [cell.strip() for cell in r1.split("│")[3:7]] == ["2", "1", "1", "50.0 %"]
    # The looped episode's surgery referral follows one ESI and nothing else; both
    # primary-care referrals went without a consult note back.
    cells = [
        [c.strip() for c in line.split("│")] for line in result.output.splitlines()
    ]
    flagged = {row[2]: row[4] for row in cells if len(row) > 4 and row[1] == "rule"}
    assert flagged == {
        "R1 surgeon_pain_surgeon_loop (high)": "1",
        "R2 surgery_without_workup (high)": "1",
        "R3 premature_surgery_referral (high)": "1",
        "R4 injections_only_before_surgery (medium)": "1",
        "R5 esi_frequency_exceeded (high)": "0",
        "R6 repeat_esi_without_response (medium)": "0",
        "R7 rfa_without_confirmed_block (high)": "0",
        "R8 outcome_not_measured (medium)": "1",
        "R9 red_flag_escalation_late (critical)": "0",
        "R10 referral_loop_open (medium)": "2",
        "R11 surgery_without_referral (medium)": "0",
    }
    head = app.recorder.max_notification_id()
    assert f"audit at position {head}, up to date" in result.output


def test_the_report_writes_csv(app, report, tmp_path):
    seed(app)
    path = tmp_path / "audit.csv"
    result = report("--csv", str(path))
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(path.open()))
    assert list(rows[0]) == [
        "section",
        "key",
        "episodes",
        "flagged",
        "findings",
        "rate",
        "value",
    ]
    by_key = {row["key"]: row for row in rows}
    assert by_key["R1 surgeon_pain_surgeon_loop (high)"]["flagged"] == "1"
    assert (
        by_key["dr-pc-1"]["section"] == "referrer"
        and by_key["dr-pc-1"]["episodes"] == "2"
    )
    assert by_key["R1 surgeon_pain_surgeon_loop (high)"]["rate"] == "0.5"


def test_the_report_as_is_reads_the_audit_without_catching_up(app, report):
    seed(app)
    result = report("--as-is")
    assert result.exit_code == 0, result.output
    assert "Referral-loop audit: 0 episodes" in result.output
    assert "audit at position 0, 5 events behind" in result.output
