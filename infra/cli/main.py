"""The `care-episodes` command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from infra.bootstrap import bootstrap
from infra.cli.audit import audit_app
from infra.cli.context import settings_of
from infra.cli.projections import project_command, projections_app
from infra.eventstore import build_application
from infra.settings import ConfigurationError
from infra.tokens import load_token_registry
from infra.verify import load_heads, save_heads, verify_store

app = typer.Typer(
    help="Care-episode backend: an event-sourced record of spine and back-pain care.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _group() -> None:
    """Care-episode backend: an event-sourced record of spine and back-pain care."""


app.command("project")(project_command)
app.add_typer(projections_app, name="projections")
app.add_typer(audit_app, name="audit")


@app.command("init-store")
def init_store(ctx: typer.Context) -> None:
    """Create the store's tables if missing and print where the store is."""
    settings = settings_of(ctx)
    with bootstrap(settings) as container:
        head = container.episodes.recorder.max_notification_id() or 0
    typer.echo(f"store: {settings.backend} ({_redacted(settings.database_url)})")
    typer.echo(f"events recorded: newest position {head}")


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
    try:
        load_token_registry(settings)
    except ConfigurationError as error:
        typer.echo(f"care-episodes: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(
        f"serving {settings.backend} store on http://{host}:{port} ({workers} worker(s))"
    )
    # The workers read their settings from the same CARE_* environment.
    uvicorn.run(
        "api.app:create_app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
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
    """Recompute every episode's hash chain; exit 1 on any tampering.

    Reports each event changed, removed or reordered, and prints a digest of all
    chain heads to keep and compare later.
    """
    with build_application(settings_of(ctx)) as episodes:
        report = verify_store(episodes, load_heads(heads) if heads else None)
    for problem in report.problems:
        typer.echo(
            f"{problem.kind.upper():<10} episode {problem.episode_id} "
            f"version {problem.version}: {problem.detail}"
        )
    verdict = "OK" if report.ok else f"FAILED ({len(report.problems)} problem(s))"
    typer.echo(
        f"verified {report.events} events in {len(report.heads)} episodes: {verdict}"
    )
    typer.echo(f"chain-heads digest: {report.digest}")
    if save is not None and report.ok:
        save_heads(report, save)
        typer.echo(f"chain heads saved to {save}")
    if not report.ok:
        raise typer.Exit(1)


def _redacted(url: str) -> str:
    """The database URL without its password."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}@{host}"


def main() -> None:
    """Entry point of the `care-episodes` console script."""
    app()


if __name__ == "__main__":
    main()
