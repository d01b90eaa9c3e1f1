"""API tests run through a TestClient on each backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from infra.settings import Settings
from tests.support.http import Api, write_tokens_file


@pytest.fixture
def api_settings(settings: Settings, tmp_path: Path) -> Settings:
    tokens = write_tokens_file(tmp_path / "tokens.json")
    # The projections run inside the app on both backends here, polling briskly.
    return settings.model_copy(
        update={
            "auth_tokens_file": tokens,
            "projections_in_process": True,
            "projection_poll_interval": 0.05,
        }
    )


@pytest.fixture
def api(api_settings: Settings) -> Iterator[Api]:
    with TestClient(create_app(api_settings), raise_server_exceptions=False) as client:
        yield Api(client)
