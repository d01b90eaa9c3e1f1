"""Backends for tests: every persistence test runs on SQLite and on PostgreSQL.

Each test gets its own store: a fresh SQLite file, or a PostgreSQL database with a
random name that is dropped afterwards. PostgreSQL tests skip when the server is
unreachable, unless CARE_REQUIRE_POSTGRES=1 (as in CI), which makes that an error.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from infra.settings import Settings

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


def create_postgres_database(admin_url: str) -> tuple[str, str]:
    """Create a database with a random name; return its name and URL."""
    name = f"care_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0]
    return name, f"{base}/{name}"


def drop_postgres_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    name, url = create_postgres_database(postgres_admin_url)
    try:
        yield url
    finally:
        drop_postgres_database(postgres_admin_url, name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for a fresh store on each backend."""
    if request.param == "sqlite":
        return Settings(database_url=f"sqlite:///{tmp_path / 'care.db'}")
    url = request.getfixturevalue("postgres_url")
    return Settings(database_url=url)
