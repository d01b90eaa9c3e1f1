"""What the command line answers when something is wrong: a sentence, never a traceback.

Exit codes scripts can rely on: 0 done; 1 the check found something (tampering,
findings); 2 usage (bad arguments, an unreadable or malformed input file); 3
configuration (bad settings) or an unreachable or missing store.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg
import typer
from eventsourcing.persistence import InterfaceError, OperationalError
from typer import _click  # the click typer bundles, as TyperGroup.invoke takes it
from typer.core import TyperGroup

from infra.settings import ConfigurationError

FOUND = 1
USAGE = 2
CONFIGURATION = 3
STORE_ERRORS = (
    OperationalError,
    InterfaceError,
    psycopg.OperationalError,
    sqlite3.OperationalError,
)


class UsageProblem(Exception):
    """The user asked for something that cannot be done as asked (exit 2)."""


def fail(message: str, code: int) -> typer.Exit:
    """Say `message` on standard error; the Exit to raise with `code`."""
    typer.echo(f"care-episodes: {message}", err=True)
    return typer.Exit(code)


class CareGroup(TyperGroup):
    """The root command: turns the errors a user can cause into a sentence and an
    exit code."""

    def invoke(self, ctx: _click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigurationError as error:
            raise fail(str(error), CONFIGURATION) from None
        except STORE_ERRORS as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            detail = f": {first}" if first else ""
            raise fail(f"the store cannot be reached{detail}", CONFIGURATION) from None
        except UsageProblem as error:
            raise fail(str(error), USAGE) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None
