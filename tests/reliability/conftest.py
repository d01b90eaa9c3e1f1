"""The reliability suite: real processes under load and faults (marked `reliability`)."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/reliability/" in str(item.path):
            item.add_marker(pytest.mark.reliability)
            item.add_marker(pytest.mark.postgres)
