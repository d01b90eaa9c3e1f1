"""`care-episodes audit report`: the audit summary as a terminal table and as CSV."""

from __future__ import annotations

import csv

import pytest
from typer.testing import CliRunner

from infra.cli import app as cli
from infra.settings import get_settings
from tests import builders as b


@pytest.fixture
def report(settings, monkeypatch):
    """Run `care-episodes audit report …` on the test store."""
    monkeypatch.setenv("CARE_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    yield lambda *args: CliRunner().invoke(cli, ["audit", "report", *args])
    get_settings.cache_clear()


def seed(app) -> None:
    """One episode round the loop (surgeon, ESI, surgeon) and one that is not."""
    looped = app.open_episode(actor=b.SERVICE, occurred_at=b.at(0), **b.referral())
    episode_id = looped.episode_id
    app.receive_referral(
        episode_id, actor=b.SERVICE, occurred_at=b.at(7), **b.further_referral()
    )
    app.perform_intervention(
        episode_id, actor=b.SERVICE, occurred_at=b.at(14), **b.esi()
    )
    app.refer_to_surgery(
        episode_id, actor=b.SERVICE, occurred_at=b.at(40), **b.surgery_referral()
    )
    app.open_episode(
        actor=b.SERVICE,
        occurred_at=b.at(1),
        **b.referral(receiving_service="pain_medicine"),
    )


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
    assert [cell.strip() for cell in r1.split("│")[3:5]] == [
        "2",
        "1",
    ]  # episodes, flagged
    assert "audit at position 5 of 5" in result.output


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
    assert "audit at position 0 of 5" in result.output
