"""`care-episodes measures report`: the quality measures' rates as a terminal table
and as CSV, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io

import pytest
from typer.testing import CliRunner

from domain import commands as cmd
from infra.cli import app as cli
from tests.support import builders as b

AS_OF = "2030-01-01T00:00:00+00:00"


@pytest.fixture
def report(settings):
    """Run `care-episodes measures report …` on the test store."""
    return lambda *args: CliRunner().invoke(
        cli, ["measures", "report", *args], obj=settings
    )


def seed(app) -> None:
    """Two adults with low back pain: one imaged on day 3, one not; the imaged one
    closed on day 60 with its ODI improved from 50 to 30."""
    adult = {"age_band": "50-64", "presentation": "axial"}
    opening = cmd.OpenEpisode(occurred_at=b.at(0), **b.referral(**adult))
    imaged = app.handle(opening, actor=b.SERVICE).episode_id
    steps = [
        (cmd.RecordOutcome, b.outcome(score=50), 1),
        (cmd.RecordDiagnostic, b.mri(), 3),
        (cmd.RecordOutcome, b.outcome(score=30), 50),
        (cmd.CloseEpisode, b.closure(), 60),
    ]
    for command_type, body, days in steps:
        app.handle(b.command(command_type, imaged, body, days), actor=b.CLINICIAN)
    other = b.referral(patient_id="pt-0002", referrer=b.further_referral()["referrer"])
    opening = cmd.OpenEpisode(occurred_at=b.at(1), **{**other, **adult})
    app.handle(opening, actor=b.SERVICE)


def cells(output: str) -> list[list[str]]:
    return [[c.strip() for c in line.split("│")[1:-1]] for line in output.splitlines()]


def test_the_report_prints_each_measure_overall_per_referrer_and_per_period(
    app, report
):
    seed(app)
    result = report("--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    assert "Quality measures (parameters v1), per month" in result.output
    head = app.recorder.max_notification_id()
    assert f"measures at position {head}, up to date" in result.output
    rows = {tuple(row[:3]): row[3:] for row in cells(result.output) if len(row) > 3}
    # eligible, excluded, denominator, numerator, rate, pending, not eligible
    assert rows[("LBP-IMG", "all", "LBP-IMG")][:7] == [
        "2",
        "0",
        "2",
        "1",
        "50.0 %",
        "0",
        "0",
    ]
    assert rows[("LBP-IMG", "referrer", "dr-pc-1")][3:5] == ["0", "0.0 %"]
    assert rows[("LBP-IMG", "referrer", "dr-ss-1")][3:5] == ["1", "100.0 %"]
    assert rows[("FS-CHG", "all", "FS-CHG")][2:5] == ["1", "1", "100.0 %"]
    assert rows[("FS-CHG", "month", "2026-05")][2:5] == ["1", "1", "100.0 %"]
    assert rows[("ESI-RESP", "all", "ESI-RESP")][4] == "-"


def test_the_report_writes_csv_with_fractions(app, report, tmp_path):
    seed(app)
    path = tmp_path / "measures.csv"
    result = report("--csv", str(path), "--as-of", AS_OF, "--measure", "lbp-img")
    assert result.exit_code == 0, result.output
    assert f"wrote 4 rows to {path}" in result.output
    rows = list(csv.DictReader(path.open()))
    assert list(rows[0]) == [
        "measure",
        "section",
        "key",
        "eligible",
        "excluded",
        "denominator",
        "numerator",
        "rate",
        "pending",
        "not_eligible",
        "exclusions",
    ]
    assert [(r["section"], r["key"], r["rate"]) for r in rows] == [
        ("all", "LBP-IMG", "0.5"),
        ("referrer", "dr-pc-1", "0.0"),
        ("referrer", "dr-ss-1", "1.0"),
        ("month", "2026-03", "0.5"),
    ]


def test_the_report_narrows_to_a_referrer_and_a_window_and_writes_to_stdout(
    app, report
):
    seed(app)
    args = ["--csv", "-", "--as-of", AS_OF, "--measure", "LBP-IMG", "--period", "year"]
    result = report(*args, "--referrer", "dr-ss-1", "--from", "2026-03-02")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [(r["section"], r["key"], r["numerator"]) for r in rows] == [
        ("all", "LBP-IMG", "1"),
        ("referrer", "dr-ss-1", "1"),
        ("year", "2026", "1"),
    ]
    later = report(*args, "--from", "2026-03-04T00:00:00+00:00")
    [overall] = [
        r for r in csv.DictReader(io.StringIO(later.output)) if r["section"] == "all"
    ]
    assert overall["eligible"] == "0"


def test_windows_still_open_at_the_as_of_instant_count_as_pending(app, report):
    seed(app)
    result = report("--csv", "-", "--as-of", "2026-03-10", "--measure", "LBP-IMG")
    [overall] = [
        r for r in csv.DictReader(io.StringIO(result.output)) if r["section"] == "all"
    ]
    assert (overall["pending"], overall["denominator"]) == ("2", "0")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--measure", "HBA1C"], "not a quality measure"),
        (["--period", "week"], "not one of month, quarter, year"),
        (["--from", "soon"], "not an ISO 8601 date"),
        (["--as-of", "yesterday"], "not an ISO 8601 date"),
    ],
)
def test_a_bad_option_is_a_usage_error(app, report, args, words):
    result = report(*args)
    assert result.exit_code == 2
    assert words in result.output
