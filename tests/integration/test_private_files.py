"""What the embedded default writes (var/, its SQLite files, development tokens)
only its owner may read; a tokens file others may read is refused."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from infra.bootstrap import bootstrap
from infra.settings import ConfigurationError, Settings
from infra.tokens import load_token_registry


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_embedded_store_and_its_directory_are_owner_only(tmp_path):
    var = tmp_path / "var"
    settings = Settings(
        database_url=f"sqlite:///{var / 'care.db'}", dev_tokens_file=var / "dev.json"
    )
    with bootstrap(settings) as container:
        engine = container.engine()
        engine.catch_up()
        engine.close()
    load_token_registry(settings)
    assert mode(var) == 0o700
    for path in var.rglob("*"):
        expected = 0o700 if path.is_dir() else 0o600
        assert mode(path) == expected, path


def test_a_configured_tokens_file_open_to_others_stops_the_service(tmp_path):
    tokens = tmp_path / "tokens.json"
    tokens.write_text(
        '[{"token": "0123456789abcdef", "principal": "p", "role": "service"}]'
    )
    tokens.chmod(0o644)
    settings = Settings(database_url="memory://", auth_tokens_file=tokens)
    with pytest.raises(ConfigurationError, match="open to other users"):
        load_token_registry(settings)
    tokens.chmod(0o600)
    assert load_token_registry(settings).authenticate("0123456789abcdef") is not None
