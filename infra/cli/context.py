"""What every command shares: the settings it runs with."""

from __future__ import annotations

import typer

from infra.settings import Settings, load_settings


def settings_of(ctx: typer.Context) -> Settings:
    """The settings the command line was given (tests pass them as `obj`), else
    those of the CARE_* environment, read once."""
    root = ctx.find_root()
    if not isinstance(root.obj, Settings):
        root.obj = load_settings()
    return root.obj
