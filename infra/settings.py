"""Settings: every configuration value, read from CARE_* environment variables."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from psycopg.conninfo import make_conninfo
from pydantic import Field, SecretStr, ValidationError, field_validator
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
    startup_wait: float = Field(
        60.0,
        ge=0,
        le=3600,
        description="seconds a starting process waits for an unreachable store "
        "(PostgreSQL) before it gives up; 0: fail at once",
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
    gc_young_threshold: int = Field(
        50_000,
        ge=100,
        le=10_000_000,
        description="objects a long-running process may allocate, net, between "
        "young runs of Python's cyclic garbage collector (Python 3.11's own: 700)",
    )
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
    ui_session_secret: SecretStr | None = Field(
        None,
        description="signs the screens' session cookies (/ui/); every replica "
        "must share it; default: a random key kept in ui_session_key_file",
    )
    ui_session_key_file: Path = Field(
        Path("var/ui-session.key"),
        description="where the screens' signing key is made on first start when "
        "ui_session_secret is not set",
    )
    ui_session_hours: float = Field(
        8.0, gt=0, le=24 * 7, description="hours a screen login lasts"
    )
    ui_refresh_seconds: float = Field(
        10.0, gt=0, le=3600, description="seconds between worklist screen refreshes"
    )
    export_dir: Path | None = Field(
        None,
        description="where FHIR bulk export files are written and served from "
        "(API replicas must share it); default: exports/ beside the SQLite "
        "database, var/exports otherwise",
    )
    export_retention_hours: float = Field(
        24.0, gt=0, le=24 * 90, description="hours a finished export's files are kept"
    )
    export_max_jobs: int = Field(
        2,
        ge=1,
        le=100,
        description="unfinished bulk exports one principal may have (429 beyond)",
    )
    export_poll_interval: float = Field(
        1.0, gt=0, le=60, description="seconds the export worker waits between looks"
    )
    exports_in_process: bool = Field(
        True, description="run the bulk export worker in a thread of `serve`"
    )
    webhooks_in_process: bool | None = Field(
        None,
        description="run the webhook sender inside `serve`; default: yes on SQLite "
        "and memory, no on PostgreSQL (run `care-episodes deliver` there)",
    )
    webhook_allow_loopback_http: bool = Field(
        False,
        description="let subscriptions name plain-http endpoints on this machine "
        "(development only; every other endpoint must be https)",
    )
    webhook_timeout: float = Field(
        5.0, gt=0, le=60, description="seconds one delivery may take"
    )
    webhook_max_failures: int = Field(
        10,
        ge=1,
        le=1000,
        description="failed deliveries in a row that pause a subscription",
    )
    webhook_backoff_base: float = Field(
        1.0, gt=0, le=3600, description="seconds before the first retry (then doubling)"
    )
    webhook_backoff_max: float = Field(
        300.0, gt=0, le=86_400, description="longest wait between retries, in seconds"
    )
    webhook_poll_interval: float = Field(
        0.5, gt=0, le=60, description="seconds the sender waits when nothing is due"
    )
    webhook_concurrency: int = Field(
        4, ge=1, le=64, description="subscriptions the sender serves at once"
    )
    encrypt_events: bool = Field(
        True,
        description="seal each patient's event payloads with that patient's own "
        "data key; false stores them in plain (erasure is then refused)",
    )
    master_key: SecretStr | None = Field(
        None,
        description="base64 of 32 random bytes: wraps every patient's data key "
        "(`care-episodes keys generate` prints one); required with PostgreSQL",
    )
    master_key_file: Path | None = Field(
        None,
        description="an owner-only file holding the master key instead; on SQLite "
        "the default is master.key beside the database, made on first start",
    )
    previous_master_keys: SecretStr | None = Field(
        None,
        description="comma-separated older master keys, still read while "
        "`care-episodes keys rotate` re-wraps the data keys",
    )
    access_log_retention_years: int = Field(
        6,
        ge=6,
        le=100,
        description="years access-log entries are kept at least (HIPAA 164.316 "
        "and 164.528: six, the lowest value accepted); nothing in the service "
        "deletes an entry, younger or older",
    )

    @field_validator("master_key", "previous_master_keys")
    @classmethod
    def _master_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            for text in value.get_secret_value().split(","):
                try:
                    secret = base64.b64decode(text.strip(), validate=True)
                except ValueError:
                    raise ValueError("a master key is base64 text") from None
                if len(secret) != 32:
                    raise ValueError(
                        f"a master key is 32 bytes once decoded, not {len(secret)}"
                    )
        return value

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
    def runs_webhooks_in_process(self) -> bool:
        """Whether `serve` runs the webhook sender in a background thread."""
        if self.webhooks_in_process is not None:
            return self.webhooks_in_process
        return self.backend != "postgres"

    @property
    def export_directory(self) -> Path:
        """Where bulk export files go (`export_dir`, or its default)."""
        if self.export_dir is not None:
            return self.export_dir
        if self.backend == "sqlite":
            return self.sqlite_path.parent / "exports"
        return Path("var/exports")

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
