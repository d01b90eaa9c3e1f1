"""The `care-episodes` command line."""

from __future__ import annotations

import os
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Annotated

import typer

from infra.bootstrap import bootstrap
from infra.cli.audit import audit_app
from infra.cli.context import existing_store, progress_bar, settings_of
from infra.cli.data import demo_command, export_command, import_command
from infra.cli.deliver import deliver_command
from infra.cli.errors import FOUND, CareGroup, UsageProblem
from infra.cli.measures import measures_app
from infra.cli.privacy import erase_command, keys_app
from infra.cli.projections import project_command, projections_app
from infra.cli.server import run_server
from infra.database import Database
from infra.eventstore import chained_recorder
from infra.logs import configure_logging
from infra.roles import grant_service_role
from infra.settings import redacted
from infra.tokens import load_token_registry
from infra.verify import load_heads, load_log_head, save_heads, verify_store

app = typer.Typer(
    cls=CareGroup,
    help="Care-episode backend: an event-sourced record of spine and back-pain care.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _group() -> None:
    """Care-episode backend: an event-sourced record of spine and back-pain care."""


app.command("project")(project_command)
app.command("deliver")(deliver_command)
app.command("demo")(demo_command)
app.command("export")(export_command)
app.command("import")(import_command)
app.command("erase")(erase_command)
app.add_typer(keys_app, name="keys")
app.add_typer(projections_app, name="projections")
app.add_typer(audit_app, name="audit")
app.add_typer(measures_app, name="measures")


@app.command("init-store")
def init_store(
    ctx: typer.Context,
    grant_to: Annotated[
        str | None,
        typer.Option(
            help="a PostgreSQL role the service runs as: it may append to the record "
            "but never rewrite it (run this as the owner)"
        ),
    ] = None,
) -> None:
    """Create the store's tables if missing and print where the store is."""
    settings = settings_of(ctx)
    if grant_to is not None and settings.backend != "postgres":
        raise UsageProblem("--grant-to is for PostgreSQL: an SQLite file has no roles")
    with bootstrap(settings) as container:
        head = container.episodes.recorder.max_notification_id() or 0
        if grant_to is not None:
            snapshots = container.episodes.snapshots
            grant_service_role(
                Database(container.episodes),
                grant_to,
                chained_recorder(container.episodes).events_table_name,
                snapshots.recorder.events_table_name  # type: ignore[attr-defined]
                if snapshots is not None
                else None,
            )
            typer.echo(f"granted the service's rights to role {grant_to}")
    typer.echo(f"store: {settings.backend} ({redacted(settings.database_url)})")
    typer.echo(f"events recorded: newest position {head}")


WORKER_PING_TIMEOUT_S = 30


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="uvicorn worker processes")
    ] = 1,
) -> None:
    """Run the HTTP API on the configured store (embedded SQLite by default)."""
    settings = settings_of(ctx)
    configure_logging()
    load_token_registry(settings)  # refuse to start without usable tokens
    typer.echo(
        f"serving {settings.backend} store on http://{host}:{port} ({workers} worker(s))"
    )
    if workers > 1 and settings.metrics_multiprocess_dir is None:
        # Each worker counts in files here, so a scrape of any one sees them all.
        shared = tempfile.mkdtemp(prefix="care-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = shared
    # The workers read their settings from the same environment; they log
    # through the service's formatter (no uvicorn log config, no access log).
    run_server(
        "api.app:create_app_from_environment",
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        # uvicorn kills a worker that does not answer its ping in time; on a
        # loaded machine 5 s (its default) kills healthy workers.
        timeout_worker_healthcheck=WORKER_PING_TIMEOUT_S,
    )


@app.command()
def verify(
    ctx: typer.Context,
    heads: Annotated[
        Path | None,
        typer.Option(
            "--heads", help="also check against chain heads saved by an earlier run"
        ),
    ] = None,
    save: Annotated[
        Path | None,
        typer.Option(
            "--save-heads", help="write this run's chain heads here (if it passes)"
        ),
    ] = None,
) -> None:
    """Recompute every episode's hash chain and the access log's; exit 1 on any
    tampering.

    Reports each event changed, removed or reordered and each access-log entry
    changed or removed, and prints a digest of all chain heads to keep and compare
    later.
    """
    saved, saved_log = _read_heads(heads) if heads else (None, None)
    settings = existing_store(settings_of(ctx))
    with (
        bootstrap(settings) as container,
        progress_bar("verifying") as progress,
    ):
        total = chained_recorder(container.episodes).count_events()
        report = verify_store(
            container.episodes,
            saved,
            log=container.access_log,
            log_head=saved_log,
            on_progress=lambda done: progress(done, total),
        )
    for problem in report.problems:
        typer.echo(
            f"{problem.kind.upper():<10} episode {problem.episode_id} "
            f"version {problem.version}: {problem.detail}"
        )
    for broken in report.log_problems:
        typer.echo(f"{'ACCESS LOG':<10} entry {broken.entry_id}: {broken.detail}")
    problems = len(report.problems) + len(report.log_problems)
    verdict = "OK" if report.ok else f"FAILED ({problems} problem(s))"
    typer.echo(
        f"verified {report.events} events in {len(report.heads)} episodes and "
        f"{report.log_entries} access-log entries: {verdict}"
    )
    typer.echo(f"chain-heads digest: {report.digest}")
    if save is not None and report.ok:
        save_heads(report, save)
        typer.echo(f"chain heads saved to {save}")
    if not report.ok:
        raise typer.Exit(FOUND)


@app.command()
def healthcheck(
    url: Annotated[
        str | None, typer.Option(help="a URL that must answer 200, e.g. …/readyz")
    ] = None,
    heartbeat: Annotated[
        Path | None, typer.Option(help="a file `project --heartbeat` keeps touching")
    ] = None,
    max_age: Annotated[
        float, typer.Option(help="seconds the heartbeat may be old")
    ] = 30.0,
) -> None:
    """Exit 0 if the service is alive (its URL answers, its heartbeat is fresh),
    else 1: for container health checks."""
    if url is None and heartbeat is None:
        raise UsageProblem("give --url, --heartbeat or both")
    problems = []
    if url is not None:
        try:
            with urllib.request.urlopen(url, timeout=3) as answer:
                if answer.status != 200:
                    problems.append(f"{url} answered {answer.status}")
        except OSError as error:
            problems.append(f"{url}: {error}")
    if heartbeat is not None:
        try:
            age = time.time() - heartbeat.stat().st_mtime
        except OSError:
            problems.append(f"no heartbeat at {heartbeat}")
        else:
            if age > max_age:
                problems.append(f"the heartbeat is {age:.0f} s old")
    if problems:
        typer.echo("; ".join(problems), err=True)
        raise typer.Exit(FOUND)
    typer.echo("alive")


def _read_heads(
    path: Path,
) -> tuple[dict[str, tuple[int, str]], tuple[int, str] | None]:
    try:
        return load_heads(path), load_log_head(path)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UsageProblem(f"cannot read the heads file {path}: {error}") from None


def main() -> None:
    """Entry point of the `care-episodes` console script."""
    app()


if __name__ == "__main__":
    main()
