"""Waiting for projections to move, without a database poll per waiter.

One `PositionWatcher` per process (the API creates it in its lifespan). While
anyone waits, one task reads the serving positions of the projections waited on
at most every `interval_s` (~100 ms) and wakes every waiter of a projection whose
position moved; nobody waiting, nothing is read. A thousand idle streams cost
one small registry read per interval, not a thousand. Serving positions only grow
(a rebuilt generation serves only once it has caught up), so a position once
seen stays reached.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Mapping

import anyio
import anyio.to_thread

from infra.projection import ReadModels

log = logging.getLogger("infra.watch")

PositionReader = Callable[[Collection[str]], Mapping[str, int]]
"""Reads the serving positions of the named projections (a blocking call)."""


def serving_positions(read_models: ReadModels) -> PositionReader:
    """A reader of serving positions from the projection registry."""

    def read(names: Collection[str]) -> dict[str, int]:
        positions = {}
        for name in names:
            with read_models.cursor(name) as cur:
                positions[name] = cur.position
        return positions

    return read


class PositionWatcher:
    """Async waits for projection positions, shared by every waiter of a process."""

    def __init__(self, read: PositionReader, *, interval_s: float = 0.1) -> None:
        self._read = read
        self.interval_s = interval_s
        self._known: dict[str, int] = {}
        self._waiting: dict[str, int] = {}
        self._moved: dict[str, asyncio.Event] = {}
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    @classmethod
    def of(cls, read_models: ReadModels, *, interval_s: float = 0.1) -> PositionWatcher:
        """A watcher of the projections of this process's read side."""
        return cls(serving_positions(read_models), interval_s=interval_s)

    def known(self, name: str) -> int | None:
        """The last position read for `name` (None: not read yet)."""
        return self._known.get(name)

    async def wait_for(self, name: str, position: int, timeout_s: float) -> bool:
        """Whether projection `name` reaches `position` within `timeout_s` seconds
        (False at once when the watcher is closed)."""
        if self._reached(name, position):
            return True
        if self._closed:
            return False
        self._waiting[name] = self._waiting.get(name, 0) + 1
        self._ensure_polling()
        try:
            with anyio.move_on_after(timeout_s):
                while not self._reached(name, position) and not self._closed:
                    moved = self._moved.setdefault(name, asyncio.Event())
                    await moved.wait()
            return self._reached(name, position)
        finally:
            self._waiting[name] -= 1
            if not self._waiting[name]:
                del self._waiting[name]

    def close(self) -> None:
        """Stop reading and release every waiter (they answer False)."""
        self._closed = True
        for event in self._moved.values():
            event.set()
        self._moved.clear()
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def _reached(self, name: str, position: int) -> bool:
        return self._known.get(name, -1) >= position

    def _ensure_polling(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._poll())

    async def _poll(self) -> None:
        while self._waiting and not self._closed:
            names = list(self._waiting)
            try:
                # The registry read blocks: one worker thread, never the loop.
                positions = await anyio.to_thread.run_sync(self._read, names)
            except Exception:
                log.warning("reading projection positions failed", exc_info=True)
                positions = {}
            for name, position in positions.items():
                if position > self._known.get(name, -1):
                    self._known[name] = position
                    moved = self._moved.pop(name, None)
                    if moved is not None:
                        moved.set()
            await asyncio.sleep(self.interval_s)
