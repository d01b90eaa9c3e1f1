"""One active worker per projection; a second stands by and takes over when it dies."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import time

from infra.catalog import build_projections
from infra.database import Database
from infra.projection import EngineHandle, ReadModels, start_in_background
from infra.projection.locks import ADVISORY_NAMESPACE, FileLocks
from tests.support import projections as ps
from tests.support.server import collector_settings


def eventually(condition, timeout_s: float = ps.WAIT_S) -> bool:
    """Whether `condition()` becomes true within the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def workers(reads: ReadModels) -> set[str | None]:
    return {s.worker for s in reads.status()}


def held_by_process(reads: ReadModels, pid: int) -> bool:
    """Whether every projection `reads` knows is held by a worker of process `pid`."""
    held = [s.worker or "" for s in reads.status()]
    return len(held) == len(reads.projections) and all(f":{pid}:" in w for w in held)


def test_a_second_worker_stands_by_while_the_first_is_active(store, settings, reads):
    first = start_in_background(store, settings, ps.projections(), ps.FAST)
    try:
        assert eventually(lambda: set(first.roles().values()) == {"active"})
        second = start_in_background(store, settings, ps.projections(), ps.FAST)
        try:
            time.sleep(5 * ps.FAST.poll_interval_s)
            assert set(second.roles().values()) == {"standby"}
            assert workers(reads) == {first.engine.worker_id}
            assert {s.state for s in reads.status()} == {"active"}
        finally:
            second.stop()
    finally:
        first.stop()


def test_the_standby_takes_over_when_the_active_worker_stops(store, settings, reads):
    # given an active worker and a standby
    first = start_in_background(store, settings, ps.projections(), ps.FAST)
    assert eventually(lambda: set(first.roles().values()) == {"active"})
    second = start_in_background(store, settings, ps.projections(), ps.FAST)
    try:
        episode = ps.open_episode(store)
        assert reads.wait_for("event_log", ps.add_events(store, episode, 3), ps.WAIT_S)
        # when the active one stops and events keep coming
        first.stop()
        last = ps.add_events(store, episode, 5)
        # then the standby takes over and finishes
        assert reads.wait_for("event_log", last, ps.WAIT_S)
        assert reads.wait_for("episode_activity", last, ps.WAIT_S)
        assert set(second.roles().values()) == {"active"}
        assert eventually(lambda: workers(reads) == {second.engine.worker_id})
    finally:
        second.stop()
    ps.assert_views_match_a_fold(store, reads)


def test_the_standby_takes_over_when_the_active_process_is_killed(
    store, settings, reads
):
    # given an active worker in another process, and a standby here
    ps.seed(store, episodes=3)
    active = subprocess.Popen(
        ps.worker_command(settings, "serve"),
        cwd=ps.ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    standby = None
    try:
        assert eventually(lambda: held_by_process(reads, active.pid))
        standby = start_in_background(store, settings, ps.projections(), ps.FAST)
        time.sleep(3 * ps.FAST.poll_interval_s)
        assert set(standby.roles().values()) == {"standby"}
        # when the active process is killed while events keep coming
        active.send_signal(signal.SIGKILL)
        active.wait(10)
        episode = ps.open_episode(store)
        last = ps.add_events(store, episode, 6)
        # then the standby takes over and finishes
        assert reads.wait_for("event_log", last, ps.WAIT_S)
        assert reads.wait_for("episode_activity", last, ps.WAIT_S)
        assert set(standby.roles().values()) == {"active"}
    finally:
        if active.poll() is None:
            active.kill()
            active.wait(10)
        if standby is not None:
            standby.stop()
    ps.assert_views_match_a_fold(store, reads)


def project_until_sigterm(settings, reads: ReadModels, **env: str) -> tuple[int, str]:
    """Run `care-episodes project` (with `env` added to its environment) until it
    holds its projections, send it SIGTERM; its exit code and output."""
    worker = subprocess.Popen(
        ps.worker_command(settings, "project"),
        cwd=ps.ROOT,
        env={**os.environ, "CARE_DATABASE_URL": settings.database_url, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert eventually(lambda: held_by_process(reads, worker.pid))
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
    return worker.returncode, output


def test_the_project_command_stops_cleanly_on_sigterm(store, settings):
    # given `care-episodes project` working on the store, on the deployment's projections
    reads = ReadModels(store, build_projections(settings))
    # when it is sent SIGTERM once it holds them
    returncode, output = project_until_sigterm(settings, reads)
    # then it lets go of its projections and exits 0
    assert returncode == 0, output
    assert "projection worker stopped" in output
    assert workers(reads) == {None}
    assert {s.state for s in reads.status()} == {"standby"}


def test_the_project_command_sets_its_garbage_collector_once_started(store, settings):
    # given `care-episodes project` started with a young threshold of its own
    reads = ReadModels(store, build_projections(settings))
    # when it has taken its projections and is stopped
    returncode, output = project_until_sigterm(
        settings, reads, CARE_GC_YOUNG_THRESHOLD="4321"
    )
    # then it set its collector once, with that threshold
    assert returncode == 0, output
    assert collector_settings(output) == [4321], output


def steal_locks(worker: EngineHandle, store) -> None:
    """Take a worker's locks away behind its back, as a dropped connection would."""
    locks = worker.engine.locks
    if isinstance(locks, FileLocks):
        for fd in list(locks._files.values()):
            fcntl.flock(fd, fcntl.LOCK_UN)
        return
    with Database(store).writing() as cur:
        cur.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks "
            "WHERE locktype = 'advisory' AND classid = ? AND pid <> pg_backend_pid()",
            (ADVISORY_NAMESPACE,),
        )


def test_a_worker_that_loses_its_locks_unawares_applies_nothing_twice(
    store, settings, reads
):
    # given an active worker and a standby
    ps.seed(store, episodes=3)
    first = start_in_background(store, settings, ps.projections(), ps.FAST)
    assert eventually(lambda: set(first.roles().values()) == {"active"})
    second = start_in_background(store, settings, ps.projections(), ps.FAST)
    try:
        # when the first loses its locks without being told, and events keep coming
        steal_locks(first, store)
        assert eventually(lambda: "active" in second.roles().values())
        episode = ps.open_episode(store)
        last = ps.add_events(store, episode, 12)
        # then between them every event is applied, and none twice
        assert reads.wait_for("event_log", last, ps.WAIT_S)
        assert reads.wait_for("episode_activity", last, ps.WAIT_S)
    finally:
        first.stop()
        second.stop()
    ps.assert_views_match_a_fold(store, reads)
