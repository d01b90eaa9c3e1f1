"""The access log: an append-only record of who read which patients' data, and when.

HIPAA §164.312(b) asks for audit controls that record reads as well as writes
(writes are the event stream itself, each event carrying its actor). Rows are only
ever inserted: database triggers refuse UPDATE and DELETE, and nothing in the
service removes them (records are kept for the six years §164.528 asks).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from domain.application import CareEpisodes
from infra.database import Cursor, Database
from infra.metrics import ACCESS_LOG_WRITES

_SQLITE_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS access_log ("
    "id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, principal_id TEXT NOT NULL, "
    "role TEXT NOT NULL, action TEXT NOT NULL, request_id TEXT, outcome TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS access_log_episodes ("
    "entry_id INTEGER NOT NULL, episode_id TEXT NOT NULL, PRIMARY KEY (episode_id, entry_id))",
    "CREATE INDEX IF NOT EXISTS access_log_principal ON access_log (principal_id, id)",
    "CREATE INDEX IF NOT EXISTS access_log_at ON access_log (at, id)",
    *(
        f"CREATE TRIGGER IF NOT EXISTS {table}_append_only_{verb} BEFORE {verb} ON {table} "
        "BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END"
        for table in ("access_log", "access_log_episodes")
        for verb in ("UPDATE", "DELETE")
    ),
]

_POSTGRES_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS access_log ("
    "id bigserial PRIMARY KEY, at timestamptz NOT NULL, principal_id text NOT NULL, "
    "role text NOT NULL, action text NOT NULL, request_id text, outcome text NOT NULL)",
    "CREATE TABLE IF NOT EXISTS access_log_episodes ("
    "entry_id bigint NOT NULL, episode_id uuid NOT NULL, PRIMARY KEY (episode_id, entry_id))",
    "CREATE INDEX IF NOT EXISTS access_log_principal ON access_log (principal_id, id)",
    "CREATE INDEX IF NOT EXISTS access_log_at ON access_log (at, id)",
    "CREATE OR REPLACE FUNCTION access_log_append_only() RETURNS trigger "
    "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the access log is append-only'; END $$",
    *(
        f"DO $$ BEGIN CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
        f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only(); "
        "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
        for table in ("access_log", "access_log_episodes")
    ),
]


@dataclass(frozen=True)
class AccessEntry:
    """One disclosure (or refused attempt): who, in which role, did what, to whom, when."""

    id: int
    at: datetime
    principal_id: str
    role: str
    action: str
    episode_ids: list[UUID]
    request_id: str | None
    outcome: str


class AccessLog:
    """Append-only access log in the events database."""

    def __init__(self, episodes: CareEpisodes) -> None:
        self.db = Database(episodes)
        self.is_sqlite = self.db.dialect.name == "sqlite"
        with self.db.writing() as cur:
            for statement in _SQLITE_SCHEMA if self.is_sqlite else _POSTGRES_SCHEMA:
                cur.execute(statement)

    def record(
        self,
        *,
        principal_id: str,
        role: str,
        action: str,
        episode_ids: Sequence[UUID],
        request_id: str | None,
        outcome: str,
        at: datetime | None = None,
    ) -> int:
        """Append one entry; returns its id."""
        ACCESS_LOG_WRITES.labels(outcome).inc()
        moment = self.db.dialect.param(at or datetime.now(UTC))
        with self.db.writing() as cur:
            entry_id = self._insert(
                cur, moment, principal_id, role, action, request_id, outcome
            )
            for episode_id in dict.fromkeys(episode_ids):
                cur.execute(
                    "INSERT INTO access_log_episodes (entry_id, episode_id) VALUES (?, ?)",
                    (entry_id, str(episode_id)),
                )
        return entry_id

    def _insert(self, cur: Cursor, *values: object) -> int:
        statement = (
            "INSERT INTO access_log (at, principal_id, role, action, request_id, outcome) "
            "VALUES (?, ?, ?, ?, ?, ?)"
        )
        if self.is_sqlite:
            return int(cur.execute(statement, values).raw.lastrowid)
        row = cur.execute(statement + " RETURNING id", values).fetchone()
        assert row is not None
        return int(row["id"])

    def entries(
        self,
        *,
        episode_id: UUID | None = None,
        principal_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[AccessEntry]:
        """Entries newest first, filtered, keyset-paged by `before_id`."""
        where: list[str] = []
        params: list[Any] = []
        if episode_id is not None:
            where.append(
                "id IN (SELECT entry_id FROM access_log_episodes WHERE episode_id = ?)"
            )
            params.append(str(episode_id))
        if principal_id is not None:
            where.append("principal_id = ?")
            params.append(principal_id)
        if since is not None:
            where.append("at >= ?")
            params.append(self.db.dialect.param(since))
        if until is not None:
            where.append("at < ?")
            params.append(self.db.dialect.param(until))
        if before_id is not None:
            where.append("id < ?")
            params.append(before_id)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        with self.db.reading() as cur:
            rows = cur.execute(
                f"SELECT * FROM access_log {clause}ORDER BY id DESC LIMIT ?",
                [*params, limit],
            ).fetchall()
            ids = [row["id"] for row in rows]
            episodes: dict[int, list[UUID]] = {entry_id: [] for entry_id in ids}
            if ids:
                marks = ", ".join("?" * len(ids))
                for link in cur.execute(
                    "SELECT entry_id, episode_id FROM access_log_episodes "
                    f"WHERE entry_id IN ({marks}) ORDER BY episode_id",
                    ids,
                ).fetchall():
                    episodes[link["entry_id"]].append(UUID(str(link["episode_id"])))
        return [
            AccessEntry(
                id=row["id"],
                at=self.db.dialect.from_db("timestamp", row["at"]),
                principal_id=row["principal_id"],
                role=row["role"],
                action=row["action"],
                episode_ids=episodes[row["id"]],
                request_id=row["request_id"],
                outcome=row["outcome"],
            )
            for row in rows
        ]
