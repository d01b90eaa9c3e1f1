"""A projection worker in its own process, for crash and takeover tests.

    python -m tests.integration.projection_worker DATABASE_URL MODE [N]

MODE `catch-up` works until the store is read to its end and exits 0; `serve`
works until SIGTERM; `project` runs `care-episodes project` as production does: the
deployment's projections, settings from the CARE_* environment (CARE_DATABASE_URL).
Any other MODE is a kill point from KILL_POINTS: the worker catches up, but
SIGKILLs itself the N-th time it passes that point. The points are patched in from
here; production code has no fault injection.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from infra.eventstore import build_application
from infra.projection import Engine
from infra.projection.processing import BatchProcessor
from infra.projection.tables import GenerationTables
from infra.settings import Settings, load_settings
from tests.support import projections as ps


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def kill_on_call(owner: type, name: str, n: int, *, before: bool) -> None:
    """SIGKILL just before, or just after, the n-th call of owner.name."""
    original: Callable[..., Any] = getattr(owner, name)
    calls = 0

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if before and calls == n:
            die()
        result = original(*args, **kwargs)
        if calls == n:
            die()
        return result

    setattr(owner, name, wrapper)


# Where a batch can be interrupted, in the order a batch passes them. Each test
# projection's writes are a save_states then an apply, both inside the batch's
# one transaction; _commit returns once it is committed.
KILL_POINTS: dict[str, Callable[[int], None]] = {
    "mid-handlers": lambda n: kill_on_call(ps.EventLog, "handle", n, before=True),
    "before-writes": lambda n: kill_on_call(
        GenerationTables, "save_states", n, before=True
    ),
    "after-writes": lambda n: kill_on_call(GenerationTables, "apply", n, before=False),
    "after-commit": lambda n: kill_on_call(BatchProcessor, "_commit", n, before=False),
}


def project() -> None:
    """`care-episodes project`, its settings read from the environment."""
    from infra.cli import app as cli  # only this mode needs the CLI

    cli(["project"], obj=load_settings(), prog_name="care-episodes")


def main(url: str, mode: str, n: int = 0) -> None:
    if mode == "project":
        project()
        return
    settings = Settings(database_url=url)
    with build_application(settings) as app:
        engine = Engine(app, settings, ps.projections(), ps.FAST)
        if mode == "serve":
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            engine.run(stop)
            return
        if mode != "catch-up":
            KILL_POINTS[mode](n)
        engine.catch_up()
        engine.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], *(int(a) for a in sys.argv[3:]))
