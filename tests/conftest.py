"""Backends for tests: every persistence test runs on SQLite and on PostgreSQL.

Each test gets its own store: a fresh SQLite file, or a PostgreSQL database with a
random name (a copy of a template holding the schema) that is dropped afterwards.
PostgreSQL tests skip when the server is unreachable, unless CARE_REQUIRE_POSTGRES=1
(as in CI), which makes that an error.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from infra.settings import Settings
from tests.support.postgres import (
    DatabaseFactory,
    create_database,
    database_url,
    drop_database,
)
from tests.support.server import TEST_KEY_ENV

# Every store the tests open seals its payloads (infra.encryption) under this master
# key, PostgreSQL ones included (which refuse to start without one); the servers
# and workers the tests start inherit it.
os.environ.setdefault("CARE_MASTER_KEY", TEST_KEY_ENV["CARE_MASTER_KEY"])

ADMIN_URL = os.environ.get(
    "CARE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("CARE_REQUIRE_POSTGRES") == "1"


def _postgres_unavailable() -> str | None:
    try:
        with psycopg.connect(ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.Error as error:
        return f"PostgreSQL at {ADMIN_URL} is unreachable: {error}"


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    reason = _postgres_unavailable()
    if reason:
        if REQUIRE_POSTGRES:
            pytest.fail(f"{reason} (CARE_REQUIRE_POSTGRES=1)")
        pytest.skip(reason)
    return ADMIN_URL


@pytest.fixture(scope="session")
def postgres_databases(postgres_admin_url: str) -> Iterator[DatabaseFactory]:
    """This test process's factory of fresh databases."""
    factory = DatabaseFactory(postgres_admin_url)
    yield factory
    factory.close()


@pytest.fixture
def postgres_url(postgres_databases: DatabaseFactory) -> Iterator[str]:
    """A fresh database holding the store's schema, dropped after the test."""
    url = postgres_databases.take()
    yield url
    postgres_databases.give_back(url)


@pytest.fixture
def blank_postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty database (no tables), dropped after the test."""
    name = create_database(postgres_admin_url)
    yield database_url(postgres_admin_url, name)
    drop_database(postgres_admin_url, name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for a fresh store on each backend."""
    if request.param == "sqlite":
        return Settings(database_url=f"sqlite:///{tmp_path / 'care.db'}")
    url = request.getfixturevalue("postgres_url")
    return Settings(database_url=url)


@pytest.fixture(autouse=True)
def restored_collector() -> Iterator[None]:
    """This test process's garbage collector as it was, after every test: one that
    runs a command in process (`projections rebuild`, the app factory) sets it as
    a long-running process of the service does (infra.collector)."""
    thresholds = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
