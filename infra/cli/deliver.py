"""`care-episodes deliver`: the webhook sender as a process of its own (PostgreSQL)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from infra.bootstrap import bootstrap
from infra.cli.context import settings_of
from infra.interop import start_background
from infra.logs import configure_logging


def deliver_command(
    ctx: typer.Context,
    heartbeat: Annotated[
        Path | None,
        typer.Option(
            help="touch this file every second, for `care-episodes healthcheck`"
        ),
    ] = None,
) -> None:
    """Push physician-feed items to their webhook subscribers until SIGTERM or
    Ctrl-C; one sender per store is active, others stand by."""
    settings = settings_of(ctx)
    if settings.backend == "memory":
        typer.echo("care-episodes: a memory:// store cannot be shared", err=True)
        raise typer.Exit(2)
    configure_logging()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with bootstrap(settings) as container:
        background = start_background(container, exports=False, webhooks=True)
        typer.echo(f"delivering webhooks from the {settings.backend} store")
        try:
            while not stop.wait(1.0):
                if heartbeat is not None:
                    heartbeat.touch()
        finally:
            background.close()
    typer.echo("webhook sender stopped")
