"""Who may work on a projection generation: one holder of its lock at a time.

PostgreSQL: session advisory locks on a dedicated connection, which also LISTENs
for the events table's NOTIFY; the locks go when the connection does, so a dead
worker's generations are free at once. SQLite: flock on one file per generation,
which the kernel releases when the process dies. memory://, which only one process
can see: plain thread locks.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import threading
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Protocol

import psycopg

from infra.database import Database
from infra.files import private_dir
from infra.news import COMMITS
from infra.settings import Settings

log = logging.getLogger(__name__)

ADVISORY_NAMESPACE = 4242002


def lock_key(name: str, generation: int) -> str:
    """The lock name of one projection generation."""
    return f"{name}.g{generation}"


def advisory_id(key: str) -> int:
    """A stable non-negative int4 for an advisory lock key."""
    digest = hashlib.blake2b(key.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF


class Locks(Protocol):
    """Generation locks held by one engine, and its way of waiting for news."""

    def try_acquire(self, key: str) -> bool:
        """Take the lock if nobody holds it."""

    def release(self, key: str) -> None:
        """Give the lock back."""

    def forget(self, key: str) -> None:
        """Clean up after a held lock whose generation is gone for good."""

    def lost(self) -> bool:
        """True once, when the locks were lost (e.g. the connection dropped)."""

    def wait(self, timeout: float, stop: threading.Event) -> None:
        """Sleep until new events may be there, the timeout, or `stop`."""

    def close(self) -> None:
        """Release everything."""


class _LocalLocks(ABC):
    """Locks of one machine: nothing to lose but the process; news comes from this
    process's own commits (infra.news) or, for other processes', by polling."""

    _seen = 0

    @abstractmethod
    def held(self) -> list[str]:
        """The keys this engine holds."""

    @abstractmethod
    def release(self, key: str) -> None:
        """Give the lock back."""

    def lost(self) -> bool:
        return False

    def wait(self, timeout: float, stop: threading.Event) -> None:
        # A commit since the last wake (during the round just done, say) ends the
        # wait at once; the round that follows reads it.
        self._seen = COMMITS.wait_past(self._seen, timeout, stop)

    def close(self) -> None:
        for key in self.held():
            self.release(key)


class FileLocks(_LocalLocks):
    """flock-based locks in a directory beside the SQLite database."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._files: dict[str, int] = {}

    def try_acquire(self, key: str) -> bool:
        private_dir(self.directory)
        fd = os.open(self.directory / f"{key}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._files[key] = fd
        return True

    def release(self, key: str) -> None:
        fd = self._files.pop(key, None)
        if fd is not None:
            os.close(fd)  # closing the descriptor releases its flock

    def forget(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.directory / f"{key}.lock").unlink()

    def held(self) -> list[str]:
        return list(self._files)

    def held_by_anyone(self, key: str) -> bool:
        """Whether some worker holds the lock (a non-blocking shared probe)."""
        path = self.directory / f"{key}.lock"
        if not path.exists():
            return False
        fd = os.open(path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False


class ProcessLocks(_LocalLocks):
    """Thread locks for a memory:// database, which no other process can see."""

    _registry: dict[str, threading.Lock] = {}
    _registry_lock = threading.Lock()

    def __init__(self, database: str) -> None:
        self.database = database
        self._held: set[str] = set()

    def try_acquire(self, key: str) -> bool:
        if self._lock(key).acquire(blocking=False):
            self._held.add(key)
            return True
        return False

    def release(self, key: str) -> None:
        if key in self._held:
            self._held.discard(key)
            self._lock(key).release()

    def forget(self, key: str) -> None:
        pass

    def held(self) -> list[str]:
        return list(self._held)

    def held_by_anyone(self, key: str) -> bool:
        """Whether some worker holds the lock."""
        return self._lock(key).locked()

    def _lock(self, key: str) -> threading.Lock:
        with self._registry_lock:
            return self._registry.setdefault(
                f"{self.database}\n{key}", threading.Lock()
            )


def local_locks(db: Database) -> FileLocks | ProcessLocks:
    """Generation locks for an SQLite database: files beside it, or thread locks."""
    name = db.sqlite_name or ""
    if "mode=memory" in name or ":memory:" in name:
        return ProcessLocks(name)
    return FileLocks(Path(f"{name}.locks"))


class AdvisoryLocks:
    """PostgreSQL advisory locks and LISTEN on one dedicated connection."""

    def __init__(self, settings: Settings, channel: str) -> None:
        self.settings = settings
        self.channel = channel
        self._conn: psycopg.Connection | None = None
        self._held: set[str] = set()
        self._lost = False

    def try_acquire(self, key: str) -> bool:
        row = self._execute(
            "SELECT pg_try_advisory_lock(%s, %s)",
            (ADVISORY_NAMESPACE, advisory_id(key)),
        )
        if row and row[0]:
            self._held.add(key)
            return True
        return False

    def release(self, key: str) -> None:
        if key in self._held:
            self._held.discard(key)
            with contextlib.suppress(psycopg.Error):
                self._execute(
                    "SELECT pg_advisory_unlock(%s, %s)",
                    (ADVISORY_NAMESPACE, advisory_id(key)),
                )

    def forget(self, key: str) -> None:
        pass

    def lost(self) -> bool:
        lost, self._lost = self._lost, False
        return lost

    def wait(self, timeout: float, stop: threading.Event) -> None:
        try:
            conn = self._connection()
            # Short slices, so a stop request is seen promptly.
            remaining = timeout
            while remaining > 0 and not stop.is_set():
                slice_s = min(remaining, 0.05)
                for _ in conn.notifies(timeout=slice_s, stop_after=1):
                    return
                remaining -= slice_s
        except psycopg.OperationalError as error:
            self._drop(error)
            stop.wait(timeout)

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
        self._conn = None
        self._held.clear()

    def _execute(self, statement: str, params: tuple[int, int]) -> tuple | None:
        try:
            return self._connection().execute(statement, params).fetchone()
        except psycopg.OperationalError as error:
            self._drop(error)
            raise

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(
                self.settings.postgres_conninfo(), autocommit=True
            )
            self._conn.execute(f'LISTEN "{self.channel}"')
        return self._conn

    def _drop(self, error: Exception) -> None:
        log.warning("projection lock connection lost: %s", error)
        if self._held:
            self._lost = True
        self._held.clear()
        with contextlib.suppress(psycopg.Error):
            if self._conn is not None:
                self._conn.close()
        self._conn = None


def held_advisory_ids(db: Database) -> set[int]:
    """Advisory lock ids some session holds in this database."""
    with db.reading() as cur:
        cur.execute(
            "SELECT objid::bigint AS id FROM pg_locks WHERE locktype = 'advisory' "
            "AND classid = ? AND objsubid = 2 AND granted AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())",
            (ADVISORY_NAMESPACE,),
        )
        return {int(row["id"]) for row in cur.fetchall()}
