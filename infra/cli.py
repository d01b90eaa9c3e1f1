"""The `care-episodes` command line."""

from __future__ import annotations

import typer

from infra.eventstore import build_application
from infra.settings import get_settings

app = typer.Typer(
    help="Care-episode backend: an event-sourced record of spine and back-pain care.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _group() -> None:
    """Care-episode backend: an event-sourced record of spine and back-pain care."""


@app.command("init-store")
def init_store() -> None:
    """Create the store's tables if missing and print where the store is."""
    settings = get_settings()
    with build_application(settings) as episodes:
        head = episodes.recorder.max_notification_id() or 0
    typer.echo(f"store: {settings.backend} ({_redacted(settings.database_url)})")
    typer.echo(f"events recorded: newest position {head}")


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
