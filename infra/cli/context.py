"""What every command shares: the settings it runs with, and how it shows progress."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from infra.settings import ConfigurationError, Settings, load_settings


def settings_of(ctx: typer.Context) -> Settings:
    """The settings the command line was given (tests pass them as `obj`), else
    those of the CARE_* environment, read once."""
    root = ctx.find_root()
    if not isinstance(root.obj, Settings):
        root.obj = load_settings()
    return root.obj


def existing_store(settings: Settings) -> Settings:
    """The settings, if they name a store that exists (commands that only read it
    must not create an empty one where a path was mistyped)."""
    if settings.backend == "sqlite" and not settings.sqlite_path.exists():
        raise ConfigurationError(
            f"no store at {settings.sqlite_path} (CARE_DATABASE_URL); "
            "`care-episodes init-store` creates one"
        )
    return settings


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on standard error, shown while the work goes on."""
    console = Console(stderr=True)
    with Progress(
        f"[bold]{label}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=not console.is_terminal,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=max(total, done) or None)

        yield update


def behind(lag_events: int) -> str:
    """How far a read model is behind the store, in words."""
    if lag_events == 0:
        return "up to date"
    return f"{lag_events} event{'s' if lag_events != 1 else ''} behind"
