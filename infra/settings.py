"""Settings: every configuration value, read from CARE_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from psycopg.conninfo import make_conninfo
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./var/care.db"


# libpq settings that make a lost database show within about two seconds: a
# connection attempt gives up after 2 s (libpq's least), sent data unacknowledged
# for 1.5 s breaks the connection, and idle connections are probed.
FAIL_FAST = {
    "connect_timeout": 2,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 1,
    "keepalives_count": 2,
    "tcp_user_timeout": 1500,
}


class ConfigurationError(Exception):
    """The configuration cannot work; the message says what to change."""


class Settings(BaseSettings):
    """Configuration of the service; see the README for each variable."""

    model_config = SettingsConfigDict(
        env_prefix="CARE_", extra="ignore", populate_by_name=True
    )

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="sqlite:///path, postgresql://user:password@host:port/db or memory://",
    )
    postgres_pool_size: int = Field(5, ge=1, le=100)
    postgres_max_overflow: int = Field(10, ge=0, le=100)
    postgres_wait_timeout: float = Field(
        1.5,
        gt=0,
        le=30,
        description="seconds a request waits for a database connection before 503",
    )
    aggregate_cache_size: int = Field(1000, ge=0)
    snapshot_every: int = Field(
        100,
        ge=0,
        le=100_000,
        description="save an episode's decision state every N events (0: never)",
    )
    create_tables: bool = Field(
        True,
        description="create missing tables at start; no for a service role that "
        "does not own them (`init-store --grant-to` prepares the store)",
    )
    auth_tokens_file: Path | None = Field(
        None,
        description="JSON list of {token | token_sha256, principal, role, physician_id?}",
    )
    dev_tokens_file: Path = Field(
        Path("var/dev-tokens.json"),
        description="where the embedded default writes development tokens",
    )
    projections_in_process: bool | None = Field(
        None,
        description="run the projection engine inside `serve`; default: yes on "
        "SQLite and memory, no on PostgreSQL (run `care-episodes project` there)",
    )
    projection_batch_size: int = Field(500, ge=1, le=10_000)
    projection_poll_interval: float = Field(0.5, gt=0, le=60)
    read_wait_max_waiters: int = Field(
        500,
        ge=1,
        le=100_000,
        description="reads waiting for min_position at once per process (503 beyond)",
    )
    read_wait_timeout: float = Field(
        5.0,
        ge=0,
        le=30,
        description="longest wait of a read model query's min_position",
    )
    metrics_multiprocess_dir: Path | None = Field(
        None,
        validation_alias="PROMETHEUS_MULTIPROC_DIR",
        description="where uvicorn workers share their metrics (set by `serve`)",
    )
    audit_block_profile: Literal["payer", "nhs"] = Field(
        "payer", description="diagnostic block thresholds of the referral-loop audit"
    )
    feed_max_streams: int = Field(
        200,
        ge=1,
        le=100_000,
        description="concurrent physician-feed streams per process (503 beyond)",
    )
    feed_heartbeat_interval: float = Field(
        15.0,
        gt=0,
        le=300,
        description="seconds between heartbeat comments on an idle feed stream",
    )
    feed_send_timeout: float = Field(
        10.0,
        gt=0,
        le=300,
        description="seconds a feed stream may wait for a client to take one event "
        "before it drops the client",
    )

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        usage = "use sqlite:///path, postgresql://user@host:port/db or memory://"
        parts = urlsplit(value)
        if parts.scheme not in ("sqlite", "postgresql", "postgres", "memory"):
            raise ValueError(f"scheme {parts.scheme!r} is not supported: {usage}")
        if parts.scheme == "sqlite" and parts.path in ("", "/"):
            raise ValueError(f"{redacted(value)!r} names no file: {usage}")
        if parts.scheme in ("postgresql", "postgres"):
            try:
                parts.port  # noqa: B018 (a bad port only shows when read)
            except ValueError:
                msg = f"{redacted(value)!r} has an invalid port: {usage}"
                raise ValueError(msg) from None
            if not parts.path.strip("/"):
                raise ValueError(f"{redacted(value)!r} names no database: {usage}")
        return value

    @property
    def backend(self) -> str:
        """'sqlite', 'postgres' or 'memory'."""
        scheme = urlsplit(self.database_url).scheme
        return "postgres" if scheme in ("postgresql", "postgres") else scheme

    @property
    def runs_projections_in_process(self) -> bool:
        """Whether `serve` runs the projection engine in a background thread."""
        if self.projections_in_process is not None:
            return self.projections_in_process
        return self.backend != "postgres"

    @property
    def sqlite_path(self) -> Path:
        """The SQLite file of a sqlite:/// URL (relative to the working directory)."""
        path = unquote(urlsplit(self.database_url).path)
        # sqlite:///var/care.db -> "/var/care.db" is relative; sqlite:////abs is absolute.
        return Path(path[1:] if path.startswith("/") else path)

    def postgres_conninfo(self) -> str:
        """A libpq connection string for a dedicated (non-pooled) connection."""
        return make_conninfo(
            **self.postgres, **{k: str(v) for k, v in FAIL_FAST.items()}
        )

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


def redacted(url: str) -> str:
    """A database URL without its password, for messages and logs."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}@{host}"


def load_settings() -> Settings:
    """The process's settings from its CARE_* environment variables.

    A bad value is a ConfigurationError whose sentence names the variable.
    """
    try:
        return Settings()
    except ValidationError as error:
        problems = []
        for item in error.errors():
            name = "_".join(str(part) for part in item.get("loc", ())).upper()
            message = str(item.get("msg", "")).removeprefix("Value error, ")
            problems.append(f"CARE_{name}: {message}" if name else message)
        raise ConfigurationError("invalid settings: " + "; ".join(problems)) from None
