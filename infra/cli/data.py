"""`care-episodes demo`, `export` and `import`: data into and out of a store."""

from __future__ import annotations

import shutil
import sys
import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer

from infra.bootstrap import bootstrap
from infra.cli.context import existing_store, progress_bar, settings_of
from infra.cli.errors import UsageProblem
from infra.demo import anchor_on, load
from infra.eventstore import build_application
from infra.files import private_file
from infra.transfer import Selection, TransferError, export, import_file


def demo_command(
    ctx: typer.Context,
    episodes: Annotated[
        int, typer.Option(min=1, max=1_000_000, help="how many episodes to record")
    ] = 200,
    seed: Annotated[
        int, typer.Option(help="the same seed gives the same episodes")
    ] = 1,
    as_if_on: Annotated[
        datetime | None,
        typer.Option(
            "--as-if-on",
            formats=["%Y-%m-%d"],
            help="make the episodes as if today were this date (YYYY-MM-DD)",
        ),
    ] = None,
) -> None:
    """Record realistic demo episodes: flipped and broken pathways, red flags,
    conservative care, injection responders, patients lost to follow-up, late
    recording."""
    anchor = anchor_on(as_if_on.date() if as_if_on else date.today())
    with bootstrap(settings_of(ctx)) as container, progress_bar("demo") as progress:
        done, events = load(
            container.episodes, episodes, seed, anchor=anchor, on_progress=progress
        )
    typer.echo(f"recorded {done} demo episodes ({events} events), seed {seed}")


def export_command(
    ctx: typer.Context,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="file to write ('-': standard output)")
    ] = Path("-"),
    patient: Annotated[
        list[str] | None,
        typer.Option("--patient", help="only this patient's episodes (repeatable)"),
    ] = None,
    opened_from: Annotated[
        datetime | None,
        typer.Option(help="only episodes opened at or after (ISO-8601 with offset)"),
    ] = None,
    opened_before: Annotated[
        datetime | None, typer.Option(help="only episodes opened before (ISO-8601)")
    ] = None,
) -> None:
    """Write episodes as JSON lines, one an episode, with their full history and
    the stored bytes of every event (so an import keeps the hash chains)."""
    for moment, name in (
        (opened_from, "--opened-from"),
        (opened_before, "--opened-before"),
    ):
        if moment is not None and moment.utcoffset() is None:
            raise UsageProblem(
                f"{name} needs a UTC offset, e.g. 2026-01-01T00:00:00+00:00"
            )
    selection = Selection(frozenset(patient or ()), opened_from, opened_before)
    settings = existing_store(settings_of(ctx))
    with build_application(settings) as episodes:
        if str(out) == "-":
            written, events = export(episodes, sys.stdout, selection)
        else:
            try:
                # It carries the data keys and the readable data: owner-only.
                with private_file(out).open("w") as file:
                    written, events = export(episodes, file, selection)
            except OSError as error:
                raise UsageProblem(f"cannot write {out}: {error}") from None
    typer.echo(f"exported {written} episodes ({events} events)", err=True)


def import_command(
    ctx: typer.Context,
    source: Annotated[
        Path, typer.Argument(help="a file written by `export` ('-': standard input)")
    ],
) -> None:
    """Import exported episodes into this store, refusing any it already holds;
    versions, times, actors and hash chains stay as they were."""
    with tempfile.TemporaryDirectory() as spool:
        path = source
        if str(source) == "-":  # read twice: checked first, then written
            path = Path(spool) / "import.jsonl"
            with path.open("wb") as file:
                shutil.copyfileobj(sys.stdin.buffer, file)
        with bootstrap(settings_of(ctx)) as container, progress_bar("import") as bar:
            try:
                done, events = import_file(container.episodes, path, on_progress=bar)
            except TransferError as error:
                raise UsageProblem(str(error)) from None
    typer.echo(f"imported {done} episodes ({events} events)")
