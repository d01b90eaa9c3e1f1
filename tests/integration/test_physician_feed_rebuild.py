"""The feed rebuilt, or its worker killed mid-batch and restarted, gives identical items."""

from __future__ import annotations

import multiprocessing
import signal

import pytest

from infra.eventstore import build_application
from infra.projection import Engine, ReadModels, rebuild
from infra.projection.processing import BatchProcessor
from infra.projection.tables import GenerationTables
from infra.settings import Settings
from projections.physician_feed import PhysicianFeedProjection
from tests.integration.feed_scenarios import actual_items, folded_items, varied_history
from tests.integration.projection_worker import kill_on_call
from tests.support import projections as ps

BATCH = ps.FAST.batch_size
# A fresh interpreter per worker: nothing of this process (pools, threads) leaks in.
WORKERS = multiprocessing.get_context("spawn")

KILL_POINTS = {
    # in the receivers, after the episode handlers of the batch ran
    "mid-receive": lambda n: kill_on_call(
        PhysicianFeedProjection, "receive", n, before=True
    ),
    # after the batch's rows and states were written, before the commit
    "after-writes": lambda n: kill_on_call(GenerationTables, "apply", n, before=False),
    # after a commit, before the next batch is read
    "after-commit": lambda n: kill_on_call(BatchProcessor, "_commit", n, before=False),
}


def feed_worker(url: str, point: str, n: int) -> None:
    """Catch the feed up, SIGKILLed the n-th time it passes `point`."""
    settings = Settings(database_url=url)
    with build_application(settings) as app:
        engine = Engine(app, settings, [PhysicianFeedProjection()], ps.FAST)
        KILL_POINTS[point](n)
        engine.catch_up()
        engine.close()


def run_worker(settings: Settings, point: str, n: int) -> int | None:
    worker = WORKERS.Process(target=feed_worker, args=(settings.database_url, point, n))
    worker.start()
    worker.join(timeout=90)
    if worker.exitcode is None:
        worker.kill()
        worker.join()
        pytest.fail(f"the {point} worker did not end within 90 s")
    return worker.exitcode


@pytest.fixture
def feed_reads(store) -> ReadModels:
    return ReadModels(store, [PhysicianFeedProjection()])


def catch_up(store, settings) -> None:
    engine = Engine(store, settings, [PhysicianFeedProjection()], ps.FAST)
    engine.catch_up()
    engine.close()


def test_a_rebuilt_feed_has_the_same_items_as_the_fold_and_the_feed_before_it(
    store, settings, feed_reads
):
    # given a feed caught up over a varied history
    varied_history(store)
    catch_up(store, settings)
    before = actual_items(feed_reads)
    assert before == folded_items(store, PhysicianFeedProjection())
    # when it is rebuilt from position 0 into new tables
    rebuild(store, settings, PhysicianFeedProjection(), options=ps.FAST)
    # then the new generation serves exactly the same items (cursors stay valid)
    assert actual_items(feed_reads) == before


@pytest.mark.parametrize(
    ("point", "n"),
    [
        pytest.param("mid-receive", 2 * BATCH + 4, id="mid-receive"),
        pytest.param("after-writes", 3, id="after-writes-before-commit"),
        pytest.param("after-commit", 3, id="after-commit-before-the-next-read"),
    ],
)
def test_a_feed_worker_killed_mid_batch_restarts_to_the_items_of_a_fold_and_a_rebuild(
    store, settings, feed_reads, point, n
):
    # given a varied history, and a feed worker killed at this point of a batch
    varied_history(store)
    assert run_worker(settings, point, n) == -signal.SIGKILL
    # when a restarted worker catches up
    catch_up(store, settings)
    # then the items equal a fold of the store, and a rebuild of them
    items = actual_items(feed_reads)
    assert items == folded_items(store, PhysicianFeedProjection())
    rebuild(store, settings, PhysicianFeedProjection(), options=ps.FAST)
    assert actual_items(feed_reads) == items
