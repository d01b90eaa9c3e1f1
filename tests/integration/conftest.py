"""Integration fixtures: a CareEpisodes application on a fresh store of each backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from domain.application import CareEpisodes
from infra.eventstore import build_application
from infra.projection import ReadModels
from infra.settings import Settings
from tests.support import projections as ps


@pytest.fixture
def app(settings: Settings) -> Iterator[CareEpisodes]:
    """A CareEpisodes application on a fresh store."""
    application = build_application(settings)
    yield application
    application.close()


@pytest.fixture
def store(app: CareEpisodes) -> CareEpisodes:
    """The application, by the name the projection engine tests use."""
    return app


@pytest.fixture
def reads(store: CareEpisodes) -> ReadModels:
    """The read side of the test projections."""
    return ReadModels(store, ps.projections())
