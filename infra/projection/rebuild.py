"""Operator actions: a zero-downtime rebuild, and a retry after a failure."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from domain.application import CareEpisodes
from infra.database import Database
from infra.eventstore import chained_recorder
from infra.projection.background import start_in_background
from infra.projection.engine import EngineOptions
from infra.projection.registry import Generation, Registry
from infra.settings import Settings
from projections.base import Projection

Progress = Callable[[int, int], None]
"""Called with (events processed, events stored)."""


class RebuildFailedError(Exception):
    """The new generation stopped on a handler error; the old one still serves."""


def rebuild(
    app: CareEpisodes,
    settings: Settings,
    projection: Projection,
    *,
    options: EngineOptions | None = None,
    on_progress: Progress | None = None,
    drop_timeout_s: float = 60.0,
) -> Generation:
    """Build new tables from position 0 while the old serve, switch, drop the old."""
    # An interrupted rebuild is resumed by the next one, or by any engine that
    # runs this projection's version: the building generation stays registered.
    registry = Registry(Database(app))
    registry.reconcile(projection)
    target = registry.request_rebuild(projection)
    before = {g.generation for g in registry.load([projection.name])} - {
        target.generation
    }
    # This worker only builds: the serving generation stays with whoever has it.
    builder = replace(options or EngineOptions(), include_serving=False)
    handle = start_in_background(app, settings, [projection], builder)
    try:
        gen = _until_serving(app, registry, target, on_progress)
        deadline = time.monotonic() + builder.drop_grace_s + drop_timeout_s
        while time.monotonic() < deadline:
            live = {g.generation for g in registry.load([projection.name])}
            if not live & before:
                break
            time.sleep(0.05)
        return gen
    finally:
        handle.stop()


def retry(app: CareEpisodes, name: str) -> int:
    """Let a failed projection resume from the failed event; generations resumed."""
    return Registry(Database(app)).clear_failure(name)


def _until_serving(
    app: CareEpisodes,
    registry: Registry,
    target: Generation,
    on_progress: Progress | None,
) -> Generation:
    next_progress = 0.0
    while True:
        gen = next(
            (
                g
                for g in registry.load([target.name])
                if g.generation == target.generation
            ),
            None,
        )
        if gen is None or gen.role == "retired":
            raise RebuildFailedError(
                f"{target.name} generation {target.generation} was superseded"
            )
        if on_progress is not None and time.monotonic() >= next_progress:
            # In events, not positions (they are not dense); counting costs a
            # scan of the positions index, so twice a second at most.
            recorder = chained_recorder(app)
            on_progress(recorder.count_events(gen.position), recorder.count_events())
            next_progress = time.monotonic() + 0.5
        if gen.role == "serving":
            return gen
        if gen.failed:
            raise RebuildFailedError(
                f"{gen.name} generation {gen.generation} stopped at position "
                f"{gen.failed_position}: {gen.last_error}"
            )
        time.sleep(0.05)
