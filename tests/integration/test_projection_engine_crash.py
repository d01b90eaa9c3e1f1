"""A worker SIGKILLed anywhere in a batch, restarted, leaves views equal to a rebuild."""

from __future__ import annotations

import multiprocessing
import signal

import pytest

from infra.projection import Engine, ReadModels, rebuild
from infra.settings import Settings
from tests.support import projections as ps

BATCH = ps.FAST.batch_size


# Workers are forked from a server process that has imported the worker module
# once (and opened nothing), so each is a fresh process without the cost of
# starting Python and importing the service again.
WORKERS = multiprocessing.get_context("forkserver")
WORKERS.set_forkserver_preload(["tests.integration.projection_worker"])


def run_worker(settings: Settings, mode: str, n: int = 0) -> int:
    """Run a worker process to its end (or its death); its exit code."""
    from tests.integration import projection_worker

    worker = WORKERS.Process(
        target=projection_worker.main, args=(settings.database_url, mode, n)
    )
    worker.start()
    worker.join(timeout=60)
    if worker.exitcode is None:
        worker.kill()
        worker.join()
        pytest.fail(f"the {mode} worker did not end within 60 s")
    return worker.exitcode


# (kill point, n-th pass, batches committed before the kill). Batch 3 is hit at
# each point; each test projection does a save_states and an apply per batch.
KILLS = [
    pytest.param("mid-handlers", 2 * BATCH + 3, 2, id="mid-handlers"),
    pytest.param("before-writes", 5, 2, id="after-the-position-update"),
    pytest.param("before-writes", 6, 2, id="after-one-projection-wrote"),
    pytest.param("after-writes", 6, 2, id="after-all-writes-before-commit"),
    pytest.param("after-commit", 3, 3, id="after-commit-before-the-next-read"),
]


@pytest.mark.parametrize(("point", "n", "committed"), KILLS)
def test_a_worker_killed_mid_batch_restarts_to_views_equal_a_rebuild(
    store, settings, reads: ReadModels, point, n, committed
):
    # given a store with several batches of events
    ps.seed(store, episodes=8, per_episode=6)
    # when a worker is killed at this point of the third batch
    assert run_worker(settings, point, n) == -signal.SIGKILL
    # then exactly the batches committed before the kill count
    reached = ps.positions(store)[committed * BATCH - 1]
    assert [s.position for s in reads.status()] == [reached] * 2
    # and a restarted worker ends with views equal to a fold and to a rebuild
    restarted = Engine(store, settings, ps.projections(), ps.FAST)
    restarted.catch_up()
    restarted.close()
    ps.assert_views_match_a_fold(store, reads)
    for projection in ps.projections():
        views = ps.actual_views(reads, projection)
        rebuild(store, settings, projection, options=ps.FAST)
        assert ps.actual_views(reads, projection) == views


def test_a_worker_killed_twice_in_a_row_still_ends_exactly_once(store, settings, reads):
    ps.seed(store, episodes=8, per_episode=6)

    assert run_worker(settings, "after-writes", 2) == -signal.SIGKILL
    assert run_worker(settings, "after-commit", 2) == -signal.SIGKILL
    assert run_worker(settings, "catch-up") == 0

    ps.assert_views_match_a_fold(store, reads)
