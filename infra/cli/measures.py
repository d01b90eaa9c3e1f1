"""`care-episodes measures report`: the quality measures' rates in the terminal or CSV."""

from __future__ import annotations

import csv
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from infra.bootstrap import bootstrap
from infra.cli.context import behind, settings_of
from infra.cli.errors import UsageProblem
from projections.quality_measures import (
    MEASURES,
    PERIODS,
    MeasureFilters,
    MeasuresSummary,
    QualityMeasuresProjection,
    measure_id,
)

measures_app = typer.Typer(
    help="The quality measures (LBP-IMG, FS-CHG, PROM-REG, ESI-RESP).",
    no_args_is_help=True,
    add_completion=False,
)
COLUMNS = (
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
)
NUMBERS = frozenset(COLUMNS[3:10])


@measures_app.command("report")
def report_command(
    ctx: typer.Context,
    measure: Annotated[
        list[str] | None,
        typer.Option(help=f"only this measure (repeatable): {', '.join(MEASURES)}"),
    ] = None,
    referrer: Annotated[
        str | None, typer.Option(help="only decisions charged to this referrer")
    ] = None,
    period: Annotated[
        str,
        typer.Option(help=f"how decisions are grouped in time: {'|'.join(PERIODS)}"),
    ] = "month",
    since: Annotated[
        str | None,
        typer.Option(
            "--from", help="anchored at or after this date or instant (ISO 8601, UTC)"
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--to", help="anchored before this date or instant (ISO 8601, UTC)"
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            help="judge the windows that depend on the clock at this instant "
            "(default: now), so a report can be reproduced"
        ),
    ] = None,
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
            help="first bring the measures up to date (when no other worker holds "
            "them)",
        ),
    ] = True,
) -> None:
    """Numerator, denominator, exclusions and rate of each measure: overall, per
    opening referrer and per period."""
    if period not in PERIODS:
        raise UsageProblem(f"--period {period!r} is not one of {', '.join(PERIODS)}")
    filters = MeasureFilters(
        measures=tuple(_measure(m) for m in measure) if measure else None,
        referrer_id=referrer,
        occurred_from=_instant(since, "--from") if since else None,
        occurred_to=_instant(until, "--to") if until else None,
    )
    now = _instant(as_of, "--as-of") if as_of else datetime.now(UTC)
    with bootstrap(settings_of(ctx)) as container:
        if catch_up:
            engine = container.engine()
            try:
                engine.catch_up()
            finally:
                engine.close()
        summary = container.views.quality_measures.summary(filters, now, period)
        statuses = {s.name: s for s in container.read_models.status()}
        status = statuses[QualityMeasuresProjection.name]
    rows = summary.table()
    if csv_path is not None:
        _write_csv(rows, csv_path)
        if str(csv_path) != "-":
            typer.echo(f"wrote {len(rows)} rows to {csv_path}")
        return
    _print(
        summary,
        rows,
        f"measures at position {status.position}, {behind(status.lag_events)}",
    )


def _print(summary: MeasuresSummary, rows: list[dict[str, Any]], where: str) -> None:
    table = Table(
        title=f"Quality measures (parameters v{summary.rules_version}), "
        f"per {summary.period}",
        caption=f"windows judged at {summary.as_of:%Y-%m-%d %H:%M} UTC; {where}; "
        "rate = numerator / denominator (the excluded are out of both); "
        "LBP-IMG is inverted: its numerator is imaging avoided",
    )
    for column in COLUMNS:
        table.add_column(column, justify="right" if column in NUMBERS else "left")
    for row in rows:
        table.add_row(*(_cell(row[column], column) for column in COLUMNS))
    Console(width=None if Console().is_terminal else 200).print(table)


def _cell(value: Any, column: str) -> str:
    if value is None or value == "":
        return "-"
    if column == "rate":
        return f"{value * 100:.1f} %"
    return str(value)


def _measure(text: str) -> str:
    found = measure_id(text)
    if found is None:
        raise UsageProblem(
            f"--measure {text!r} is not a quality measure: {', '.join(MEASURES)}"
        )
    return found


def _instant(text: str, option: str) -> datetime:
    """A date (its UTC midnight) or an instant with an offset (naive: UTC)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageProblem(
            f"{option} {text!r} is not an ISO 8601 date or instant"
        ) from None
    return moment if moment.utcoffset() is not None else moment.replace(tzinfo=UTC)


def _write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    if str(path) == "-":
        _write(rows, sys.stdout)
        return
    with path.open("w", newline="") as file:
        _write(rows, file)


def _write(rows: list[dict[str, Any]], out: IO[str]) -> None:
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
