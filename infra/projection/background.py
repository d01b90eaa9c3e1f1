"""Embedded mode: the projection engine in a background thread of the API process."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from domain.application import CareEpisodes
from infra.projection.engine import Engine, EngineOptions
from infra.settings import Settings
from projections.base import Projection


class EngineHandle:
    """A projection engine running in a background thread."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=engine.run, args=(self._stop,), name="projection-engine", daemon=True
        )

    def start(self) -> EngineHandle:
        """Start the thread."""
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        """Ask the engine to stop after its current batch and wait for the thread."""
        self._stop.set()
        self._thread.join(timeout_s)

    @property
    def running(self) -> bool:
        """Whether the thread is alive."""
        return self._thread.is_alive()

    def roles(self) -> dict[str, str]:
        """Per projection: 'active' if this process works on it, else 'standby'."""
        return self.engine.roles()


def start_in_background(
    app: CareEpisodes,
    settings: Settings,
    projections: Sequence[Projection],
    options: EngineOptions | None = None,
) -> EngineHandle:
    """Run a projection engine in a daemon thread until `.stop()`."""
    return EngineHandle(Engine(app, settings, projections, options)).start()
