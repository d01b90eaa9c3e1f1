"""The `care-episodes` command line: each command gets its objects from bootstrap."""

from infra.cli.main import app, main

__all__ = ["app", "main"]
