"""`care-episodes project` and `care-episodes projections …`: the engine's commands."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from infra.bootstrap import Container, bootstrap
from infra.cli.context import settings_of
from infra.collector import tune_collector
from infra.logs import configure_logging
from infra.projection import EngineOptions, RebuildFailedError, rebuild, retry
from projections.base import Projection

projections_app = typer.Typer(
    help="Projections: status, zero-downtime rebuilds, retries after a failure.",
    no_args_is_help=True,
    add_completion=False,
)


def project_command(
    ctx: typer.Context,
    batch_size: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=10_000,
            help="events per transaction [CARE_PROJECTION_BATCH_SIZE]",
        ),
    ] = None,
    poll_interval: Annotated[
        float | None,
        typer.Option(
            min=0.01,
            help="seconds between polls when nothing wakes it "
            "[CARE_PROJECTION_POLL_INTERVAL]",
        ),
    ] = None,
    heartbeat: Annotated[
        Path | None,
        typer.Option(
            help="touch this file every round, for `care-episodes healthcheck`"
        ),
    ] = None,
) -> None:
    """Run the projection engine in the foreground until SIGTERM or Ctrl-C."""
    settings = settings_of(ctx)
    if settings.backend == "memory":
        typer.echo("care-episodes: a memory:// store cannot be shared", err=True)
        raise typer.Exit(2)
    configure_logging()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    options = EngineOptions(
        batch_size=batch_size or settings.projection_batch_size,
        poll_interval_s=poll_interval or settings.projection_poll_interval,
    )
    with bootstrap(settings) as container:
        engine = container.engine(options)
        tune_collector(settings.gc_young_threshold)
        typer.echo(
            f"projecting {len(container.projections)} projection(s) on the "
            f"{settings.backend} store as worker {engine.worker_id}"
        )
        engine.run(stop, on_round=_beat(heartbeat) if heartbeat else None)
    typer.echo("projection worker stopped")


@projections_app.command("status")
def status_command(ctx: typer.Context) -> None:
    """Each projection's position, head, lag, state and last error."""
    with bootstrap(settings_of(ctx)) as container:
        statuses = container.read_models.status()
    if not statuses:
        typer.echo("no projections registered (infra/catalog.py)")
        return
    table = Table()
    table.add_column("projection", no_wrap=True)
    for heading in ("version", "position", "head", "lag", "state"):
        table.add_column(heading, no_wrap=True)
    table.add_column("worker", overflow="fold")
    for s in statuses:
        state = s.state
        if s.rebuild_generation is not None:
            state += f" (v{s.rebuild_version} at {s.rebuild_position})"
        table.add_row(
            s.name,
            f"v{s.version} g{s.generation}",
            str(s.position),
            str(s.head),
            f"{s.lag_events} ({s.lag_seconds:.1f} s)",
            state,
            s.worker or "-",
        )
    # Piped output gets room too, so names are never cut.
    console = Console(width=None if Console().is_terminal else 160)
    console.print(table)
    for s in statuses:
        if s.last_error:
            console.print(
                f"{s.name}: last error at position {s.error_position}: {s.last_error}",
                markup=False,
            )


@projections_app.command("rebuild")
def rebuild_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="the projection to rebuild")],
) -> None:
    """Build NAME anew into new tables while the current ones serve, then switch."""
    settings = settings_of(ctx)
    with (
        bootstrap(settings) as container,
        Progress(
            "{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
        ) as progress,
    ):
        projection = _projection(container, name)
        tune_collector(settings.gc_young_threshold)
        task = progress.add_task(f"rebuilding {name}", total=None)
        try:
            gen = rebuild(
                container.episodes,
                settings,
                projection,
                options=EngineOptions(
                    batch_size=settings.projection_batch_size,
                    poll_interval_s=settings.projection_poll_interval,
                ),
                on_progress=lambda done, head: progress.update(
                    task, completed=done, total=max(head, done)
                ),
            )
        except RebuildFailedError as error:
            progress.stop()
            typer.echo(f"care-episodes: {error}", err=True)
            raise typer.Exit(1) from None
    typer.echo(
        f"{name}: generation {gen.generation} (version {gen.version}) now serves, "
        f"at position {gen.position}"
    )


@projections_app.command("retry")
def retry_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="the failed projection")],
) -> None:
    """Let a failed projection resume from the event that failed."""
    with bootstrap(settings_of(ctx)) as container:
        _projection(container, name)
        resumed = retry(container.episodes, name)
    if resumed:
        typer.echo(f"{name}: resumes from the failed event at the next poll")
    else:
        typer.echo(f"{name}: not failed; nothing to retry")


def _beat(path: Path) -> Callable[[], None]:
    """Touch `path` at most once a second: the worker's sign of life."""
    last = 0.0

    def beat() -> None:
        nonlocal last
        if time.monotonic() - last >= 1.0:
            last = time.monotonic()
            path.touch()

    return beat


def _projection(container: Container, name: str) -> Projection:
    try:
        return container.projection(name)
    except KeyError as error:
        typer.echo(f"care-episodes: {error.args[0]}", err=True)
        raise typer.Exit(2) from None
