"""`care-episodes audit report`: the referral-loop audit summary in the terminal or CSV."""

from __future__ import annotations

import csv
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from infra.projection import Engine, EngineOptions
from infra.referral_audit_view import NAME, ReferralAuditView
from infra.services import open_services
from infra.settings import get_settings
from projections.referral_audit import audit_rules

audit_app = typer.Typer(
    help="The referral-loop audit.", no_args_is_help=True, add_completion=False
)
COLUMNS = ("section", "key", "episodes", "flagged", "findings", "rate", "value")


@audit_app.command("report")
def report_command(
    csv_path: Annotated[
        Path | None,
        typer.Option(
            "--csv", help="write the report as CSV to this file ('-': stdout)"
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
    settings = get_settings()
    services = open_services(settings)
    try:
        if catch_up:
            engine = Engine(
                services.episodes,
                settings,
                services.projections,
                EngineOptions(batch_size=settings.projection_batch_size),
            )
            try:
                engine.catch_up()
            finally:
                engine.close()
        view = ReferralAuditView(
            services.read_models, audit_rules(settings.audit_block_profile)
        )
        summary = view.summary(datetime.now(UTC))
        status = {s.name: s for s in services.read_models.status()}[NAME]
    finally:
        services.close()
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
        f"{status.position} of {status.head}",
    )
    for column in COLUMNS:
        table.add_column(
            column, justify="left" if column in ("section", "key") else "right"
        )
    for row in rows:
        table.add_row(*(_cell(row[column]) for column in COLUMNS))
    Console(width=None if Console().is_terminal else 160).print(table)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
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
