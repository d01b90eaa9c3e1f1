"""Fresh PostgreSQL databases for tests, made ahead of need from a template.

`CREATE DATABASE` costs a few hundred milliseconds here (it writes and syncs the
new database's files), and most PostgreSQL tests need one. A factory per test
process copies a template that already holds the store's schema, a couple of
databases ahead in a background thread, so the copying overlaps the tests
instead of preceding each; databases are dropped in the background too. Every
database still has a random name and is dropped after its test.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import uuid

import psycopg

from infra.bootstrap import bootstrap
from infra.settings import Settings

PREFIX = "care_test_"


def database_url(admin_url: str, name: str) -> str:
    """The URL of database `name` on the server of `admin_url`."""
    return f"{admin_url.rsplit('/', 1)[0]}/{name}"


def create_database(admin_url: str, *, template: str | None = None) -> str:
    """Create a database with a random name (a copy of `template`, if given)."""
    name = f"{PREFIX}{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{copy}')
    return name


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class DatabaseFactory:
    """Databases holding the store's schema, for one test process."""

    AHEAD = 4

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.template = create_database(admin_url)
        # The schema as the current code creates it, then no connection left:
        # PostgreSQL copies a template only while nobody is connected to it.
        bootstrap(Settings(database_url=database_url(admin_url, self.template))).close()
        self._ready: queue.Queue[str | BaseException] = queue.Queue(self.AHEAD)
        self._doomed: queue.Queue[str | None] = queue.Queue()
        self._stop = threading.Event()
        self._makers = [
            threading.Thread(target=self._make, daemon=True) for _ in range(2)
        ]
        self._dropper = threading.Thread(target=self._drop, daemon=True)
        for maker in self._makers:
            maker.start()
        self._dropper.start()

    def take(self) -> str:
        """A fresh database's URL (the caller gives it back with `give_back`)."""
        made = self._ready.get(timeout=60)
        if isinstance(made, BaseException):
            raise made
        return database_url(self.admin_url, made)

    def give_back(self, url: str) -> None:
        """Drop a database taken from this factory, in the background."""
        self._doomed.put(url.rsplit("/", 1)[1])

    def close(self) -> None:
        """Drop every database this factory made, the template last."""
        self._stop.set()
        with contextlib.suppress(queue.Empty):
            while True:
                made = self._ready.get_nowait()
                if isinstance(made, str):
                    self._doomed.put(made)
        for maker in self._makers:
            maker.join(timeout=60)
        with contextlib.suppress(queue.Empty):
            while True:  # made while stopping
                made = self._ready.get_nowait()
                if isinstance(made, str):
                    self._doomed.put(made)
        self._doomed.put(None)
        self._dropper.join(timeout=120)
        drop_database(self.admin_url, self.template)

    def _make(self) -> None:
        while not self._stop.is_set():
            try:
                made: str | BaseException = create_database(
                    self.admin_url, template=self.template
                )
            except psycopg.Error as error:
                made = error
            while not self._stop.is_set():
                try:
                    self._ready.put(made, timeout=0.2)
                    break
                except queue.Full:
                    continue
            else:
                if isinstance(made, str):
                    self._doomed.put(made)

    def _drop(self) -> None:
        while (name := self._doomed.get()) is not None:
            with contextlib.suppress(psycopg.Error):
                drop_database(self.admin_url, name)
