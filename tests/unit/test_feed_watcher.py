"""The PositionWatcher: async waits for projection positions, one read for all waiters."""

from __future__ import annotations

import threading
from collections.abc import Collection

import anyio

from infra.watch import PositionWatcher


class Positions:
    """A projection registry stand-in: positions to report, and reads counted."""

    def __init__(self, **positions: int) -> None:
        self.positions = dict(positions)
        self.reads = 0
        self.lock = threading.Lock()

    def __call__(self, names: Collection[str]) -> dict[str, int]:
        with self.lock:
            self.reads += 1
            return {name: self.positions.get(name, 0) for name in names}


def test_a_wait_ends_true_once_the_projection_reaches_the_position():
    positions = Positions(feed=3)
    watcher = PositionWatcher(positions, interval_s=0.01)

    async def waiting() -> tuple[bool, float]:
        started = anyio.current_time()
        async with anyio.create_task_group() as group:

            async def move() -> None:
                await anyio.sleep(0.05)
                positions.positions["feed"] = 5

            group.start_soon(move)
            reached = await watcher.wait_for("feed", 5, timeout_s=2)
        return reached, anyio.current_time() - started

    reached, took = anyio.run(waiting)
    assert reached and took < 1


def test_a_wait_ends_false_when_the_position_is_not_reached_in_time():
    watcher = PositionWatcher(Positions(feed=3), interval_s=0.01)
    assert anyio.run(watcher.wait_for, "feed", 4, 0.1) is False


def test_a_position_already_seen_needs_no_read():
    positions = Positions(feed=9)
    watcher = PositionWatcher(positions, interval_s=0.01)
    assert anyio.run(watcher.wait_for, "feed", 9, 1)
    reads = positions.reads

    assert anyio.run(watcher.wait_for, "feed", 4, 1)
    assert positions.reads == reads


def test_a_hundred_waiters_share_one_read_per_interval():
    positions = Positions(feed=0)
    watcher = PositionWatcher(positions, interval_s=0.1)
    woken: list[bool] = []

    async def waiters() -> None:
        async def wait() -> None:
            woken.append(await watcher.wait_for("feed", 1, timeout_s=5))

        async with anyio.create_task_group() as group:
            for _ in range(100):
                group.start_soon(wait)
            await anyio.sleep(0.5)
            positions.positions["feed"] = 1

    anyio.run(waiters)
    assert woken == [True] * 100
    # about one read per 100 ms over ~0.6 s, whatever the number of waiters
    assert positions.reads <= 10


def test_nothing_is_read_while_nobody_waits():
    positions = Positions(feed=1)
    watcher = PositionWatcher(positions, interval_s=0.01)

    async def idle() -> None:
        await watcher.wait_for("feed", 1, timeout_s=1)
        reads = positions.reads
        await anyio.sleep(0.1)
        assert positions.reads == reads

    anyio.run(idle)


def test_closing_the_watcher_releases_every_waiter_with_false():
    watcher = PositionWatcher(Positions(feed=0), interval_s=0.01)
    answers: list[bool] = []

    async def closing() -> None:
        async def wait() -> None:
            answers.append(await watcher.wait_for("feed", 1, timeout_s=10))

        async with anyio.create_task_group() as group:
            for _ in range(3):
                group.start_soon(wait)
            await anyio.sleep(0.05)
            watcher.close()

    anyio.run(closing)
    assert answers == [False] * 3


def test_a_failing_read_is_retried_on_the_next_interval():
    calls = []

    def flaky(names: Collection[str]) -> dict[str, int]:
        calls.append(names)
        if len(calls) == 1:
            raise OSError("the database is away")
        return {"feed": 2}

    watcher = PositionWatcher(flaky, interval_s=0.01)
    assert anyio.run(watcher.wait_for, "feed", 2, 2)
    assert len(calls) >= 2
