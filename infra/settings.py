"""Settings: every configuration value, read from CARE_* environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./var/care.db"


class ConfigurationError(Exception):
    """The configuration cannot work; the message says what to change."""


class Settings(BaseSettings):
    """Configuration of the service; see the README for each variable."""

    model_config = SettingsConfigDict(env_prefix="CARE_", extra="ignore")

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="sqlite:///path, postgresql://user:password@host:port/db or memory://",
    )
    postgres_pool_size: int = Field(5, ge=1, le=100)
    postgres_max_overflow: int = Field(10, ge=0, le=100)
    aggregate_cache_size: int = Field(1000, ge=0)
    auth_tokens_file: Path | None = Field(
        None,
        description="JSON list of {token | token_sha256, principal, role, physician_id?}",
    )
    dev_tokens_file: Path = Field(
        Path("var/dev-tokens.json"),
        description="where the embedded default writes development tokens",
    )

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        scheme = urlsplit(value).scheme
        if scheme not in ("sqlite", "postgresql", "postgres", "memory"):
            msg = (
                f"CARE_DATABASE_URL scheme {scheme!r} is not supported: use "
                "sqlite:///path, postgresql://user@host:port/db or memory://"
            )
            raise ValueError(msg)
        return value

    @property
    def backend(self) -> str:
        """'sqlite', 'postgres' or 'memory'."""
        scheme = urlsplit(self.database_url).scheme
        return "postgres" if scheme in ("postgresql", "postgres") else scheme

    @property
    def sqlite_path(self) -> Path:
        """The SQLite file of a sqlite:/// URL (relative to the working directory)."""
        path = unquote(urlsplit(self.database_url).path)
        # sqlite:///var/care.db -> "/var/care.db" is relative; sqlite:////abs is absolute.
        return Path(path[1:] if path.startswith("/") else path)

    @property
    def postgres(self) -> dict[str, str]:
        """Connection parts of a postgresql:// URL."""
        parts = urlsplit(self.database_url)
        return {
            "host": parts.hostname or "127.0.0.1",
            "port": str(parts.port or 5432),
            "user": unquote(parts.username or "postgres"),
            "password": unquote(parts.password or ""),
            "dbname": unquote(parts.path.lstrip("/")) or "postgres",
        }


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    return Settings()
