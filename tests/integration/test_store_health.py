"""A pool that is only busy is not a database that is down: a burst of load must
not open the store-down circuit, an unreachable database must; and a process that
starts while the database is away waits for it, within its bound."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from eventsourcing.persistence import OperationalError

from infra.bootstrap import UNREACHABLE, Container, bootstrap, bootstrap_when_reachable
from infra.eventstore import chained_recorder
from infra.settings import Settings
from tests.support.proxy import TcpProxy

pytestmark = pytest.mark.postgres


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[TcpProxy]:
    proxy = TcpProxy.to_server_of(postgres_url)
    yield proxy
    proxy.close()


@pytest.fixture
def settings(postgres_url: str, proxy: TcpProxy) -> Settings:
    """One pooled connection at most, reached through the proxy; short waits."""
    through = proxy.through(postgres_url)
    return Settings(
        database_url=through,
        postgres_pool_size=1,
        postgres_max_overflow=0,
        postgres_wait_timeout=0.3,
        startup_wait=20,
    )


@pytest.fixture
def container(settings: Settings) -> Iterator[Container]:
    with bootstrap(settings) as container:
        yield container


@contextmanager
def connection_held(container: Container) -> Iterator[None]:
    """The pool's only connection held by another thread while the block runs."""
    taken, release = threading.Event(), threading.Event()

    def hold() -> None:
        with container.pool().connection():
            taken.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    taken.wait(5)
    try:
        yield
    finally:
        release.set()
        holder.join()


def failure_of(call) -> BaseException:
    with pytest.raises(OperationalError) as raised:
        call()
    return raised.value


def test_a_wait_for_a_busy_pool_does_not_open_the_circuit(container: Container):
    # given the only connection held by another request
    with connection_held(container):
        # when a request waits for a connection in vain
        error = failure_of(container.episodes.recorder.max_notification_id)
    # then only that request is refused: the store is not presumed down
    assert container.health.failed(error) is False
    assert not container.health.presumed_down()
    assert container.health.ready(timeout=2)


def test_a_readiness_check_slowed_by_a_busy_pool_does_not_open_the_circuit(
    container: Container,
):
    # given the only connection held by another request
    with connection_held(container):
        # when readiness is asked, once with less patience than the pool's wait
        # (the check is slow) and once with more (the check fails on the pool)
        slow = container.health.ready(timeout=0.05)
        refused = container.health.ready(timeout=2)
        # then the service is not ready, but the store is not presumed down
        assert (slow, refused) == (False, False)
        assert not container.health.presumed_down()
    # and readiness returns with the connection
    assert container.health.ready(timeout=2)


def test_a_readiness_check_on_an_unreachable_database_opens_the_circuit(
    container: Container, proxy: TcpProxy
):
    # given the database gone away
    proxy.cut()
    # when readiness is asked, with time for the connection attempt to fail
    ready = container.health.ready(timeout=5)
    # then the service is not ready and the next requests are told at once
    assert ready is False
    assert container.health.presumed_down()


def test_an_unreachable_database_opens_the_circuit(
    container: Container, proxy: TcpProxy
):
    # given the database gone away (every connection reset, new ones unanswered)
    proxy.cut()
    # when a request cannot get a working connection
    error = failure_of(container.episodes.recorder.max_notification_id)
    # then the next requests are told at once that the store is down
    assert container.health.failed(error) is True
    assert container.health.presumed_down()


def test_a_process_starting_during_an_outage_waits_and_starts_when_it_ends(
    settings: Settings, proxy: TcpProxy
):
    # given the database away when the process starts
    proxy.cut()
    restored = threading.Timer(2.0, proxy.restore)
    restored.start()
    started = time.monotonic()
    # when it opens the store
    with bootstrap_when_reachable(settings) as container:
        waited = time.monotonic() - started
        # then it started once the database was back, not before, and works
        assert waited >= 2.0
        assert container.health.ready(timeout=2)
    restored.join()


def test_a_process_gives_up_when_the_outage_outlasts_its_start_wait(
    settings: Settings, proxy: TcpProxy
):
    proxy.cut()
    with pytest.raises(UNREACHABLE):
        bootstrap_when_reachable(settings.model_copy(update={"startup_wait": 0.0}))


def test_a_transaction_psycopg_aborted_does_not_open_the_circuit(
    container: Container,
):
    # given a request whose transaction psycopg aborted (one of its statements
    # failed, so the rest of its pipeline was not run), as the store raises it
    try:
        try:
            raise psycopg.errors.PipelineAborted("pipeline aborted")
        except psycopg.errors.PipelineAborted as aborted:
            raise OperationalError(str(aborted)) from aborted
    except OperationalError as raised:
        error = raised
    # then only that request is refused: the database answered
    assert container.health.failed(error) is False
    assert not container.health.presumed_down()


def test_a_process_starting_beside_busy_writers_takes_no_lock_on_the_events(
    postgres_url: str,
):
    # given a store in use: a writer's transaction holds the events table (as one
    # does between reading its chain heads and taking the table lock)
    settings = Settings(database_url=postgres_url)
    with bootstrap(settings) as running:
        table = chained_recorder(running.episodes).events_table_name
        with psycopg.connect(postgres_url) as writer:
            writer.execute(f"LOCK TABLE {table} IN ACCESS SHARE MODE")
            # when another process starts (its create statements find the store)
            started: list[Container] = []
            starting = threading.Thread(
                target=lambda: started.append(bootstrap(settings))
            )
            starting.start()
            starting.join(timeout=10)
            # then it started without queueing a lock on the table, which would
            # deadlock with the writer's own LOCK TABLE
            assert started, "the starting process waited for the events table"
            started[0].close()
