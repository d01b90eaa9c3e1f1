"""`care-episodes audit report`: the referral-loop audit summary in the terminal or
CSV; `audit replay` and `audit check-evidence` (infra.cli.audit_replay)."""

from __future__ import annotations

import csv
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from infra.bootstrap import bootstrap
from infra.cli.audit_replay import check_evidence_command, replay_command
from infra.cli.context import behind, settings_of
from projections.referral_audit import ReferralAuditProjection

audit_app = typer.Typer(
    help="The referral-loop audit.", no_args_is_help=True, add_completion=False
)
COLUMNS = ("section", "key", "episodes", "flagged", "findings", "rate", "value")
audit_app.command("replay")(replay_command)
audit_app.command("check-evidence")(check_evidence_command)


@audit_app.command("report")
def report_command(
    ctx: typer.Context,
    csv_path: Annotated[
        Path | None,
        typer.Option(
            "--csv",
            help="write the report as CSV to this file ('-': stdout); rates there "
            "are fractions from 0 to 1",
        ),
    ] = None,
    catch_up: Annotated[
        bool,
        typer.Option(
            "--catch-up/--as-is",
            help="first bring the audit up to date (when no other worker holds it)",
        ),
    ] = True,
) -> None:
    """Counts and rates per rule, severity, referrer and surgeon, and pathway metrics."""
    with bootstrap(settings_of(ctx)) as container:
        if catch_up:
            engine = container.engine()
            try:
                engine.catch_up()
            finally:
                engine.close()
        summary = container.views.referral_audit.summary(datetime.now(UTC))
        statuses = {s.name: s for s in container.read_models.status()}
        status = statuses[ReferralAuditProjection.name]
    rows = summary.table()
    if csv_path is not None:
        _write_csv(rows, csv_path)
        if str(csv_path) != "-":
            typer.echo(f"wrote {len(rows)} rows to {csv_path}")
        return
    table = Table(
        title=f"Referral-loop audit: {summary.episodes} episodes, {summary.flagged} "
        f"flagged (rules v{summary.rules_version}, {summary.rules_profile} profile)",
        caption=f"as of {summary.as_of:%Y-%m-%d %H:%M} UTC; audit at position "
        f"{status.position}, {behind(status.lag_events)}",
    )
    for column in COLUMNS:
        table.add_column(
            column, justify="left" if column in ("section", "key") else "right"
        )
    for row in rows:
        table.add_row(*(_cell(row[column], column) for column in COLUMNS))
    Console(width=None if Console().is_terminal else 160).print(table)


def _cell(value: Any, column: str) -> str:
    if value is None:
        return "-"
    if column == "rate":
        return f"{value * 100:.1f} %"
    if isinstance(value, float):
        return f"{value:.3g}" if value < 1 else f"{value:.1f}"
    return str(value)


def _write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    if str(path) == "-":
        writer = csv.DictWriter(sys.stdout, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
        return
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
