"""The access log: an append-only, hash-chained record of who read which patients'
data, and when (refused attempts and unauthenticated requests included).

HIPAA §164.312(b) asks for audit controls that record reads as well as writes
(writes are the event stream itself, each event carrying its actor). Rows are only
ever inserted: triggers refuse UPDATE, DELETE and TRUNCATE, and on PostgreSQL the
service's own role may only INSERT and SELECT (the owner, another role, holds the
triggers: `care-episodes init-store --grant-to ROLE`). Each entry is chained to
the one before (SHA-256), so a row changed or removed by anyone who could get
past that (SQLite cannot stop its own writer) is found by `care-episodes verify`;
its head is among the saved heads. Nothing deletes entries: they are kept for the
six years §164.528 asks.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from domain.application import CareEpisodes
from infra.database import Cursor, Database
from infra.metrics import ACCESS_LOG_WRITES

GENESIS = bytes(32)
# Serialises appends on PostgreSQL, so each entry links to the one before it.
CHAIN_LOCK = 4242003

_SQLITE_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS access_log ("
    "id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, principal_id TEXT NOT NULL, "
    "role TEXT NOT NULL, action TEXT NOT NULL, request_id TEXT, outcome TEXT NOT NULL, "
    "chain BLOB)",
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
    "ALTER TABLE access_log ADD COLUMN IF NOT EXISTS chain bytea",
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


@dataclass(frozen=True)
class ChainBreak:
    """An access-log entry whose link does not follow from the one before it."""

    entry_id: int
    detail: str


def link(previous: bytes, entry: AccessEntry) -> bytes:
    """An entry's link: SHA-256 over the previous link and the entry's content."""
    content = [
        entry.at.astimezone(UTC).isoformat(timespec="microseconds"),
        entry.principal_id,
        entry.role,
        entry.action,
        entry.request_id,
        entry.outcome,
        sorted(str(e) for e in entry.episode_ids),
    ]
    body = json.dumps(content, separators=(",", ":")).encode()
    return hashlib.sha256(previous + body).digest()


class AccessLog:
    """Append-only, chained access log in the events database."""

    def __init__(self, episodes: CareEpisodes, *, create: bool = True) -> None:
        self.db = Database(episodes)
        self.is_sqlite = self.db.dialect.name == "sqlite"
        if create:
            with self.db.writing() as cur:
                for statement in _SQLITE_SCHEMA if self.is_sqlite else _POSTGRES_SCHEMA:
                    cur.execute(statement)
                if self.is_sqlite:
                    self._add_sqlite_chain_column(cur)

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
        """Append one entry, chained to the last; returns its id."""
        ACCESS_LOG_WRITES.labels(outcome).inc()
        moment = (at or datetime.now(UTC)).astimezone(UTC)
        episodes = list(dict.fromkeys(episode_ids))
        entry = AccessEntry(
            0, moment, principal_id, role, action, episodes, request_id, outcome
        )
        with self.db.writing() as cur:
            if not self.is_sqlite:
                cur.execute("SELECT pg_advisory_xact_lock(?)", (CHAIN_LOCK,))
            row = cur.execute(
                "SELECT chain FROM access_log ORDER BY id DESC LIMIT 1"
            ).fetchone()
            previous = bytes(row["chain"]) if row and row["chain"] else GENESIS
            entry_id = self._insert(cur, entry, link(previous, entry))
            for episode_id in episodes:
                cur.execute(
                    "INSERT INTO access_log_episodes (entry_id, episode_id) VALUES (?, ?)",
                    (entry_id, str(episode_id)),
                )
        return entry_id

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
            entries = self._entries(cur, rows)
        return [entry for entry, _ in entries]

    def verify(self) -> tuple[int, list[ChainBreak], tuple[int, str] | None]:
        """Recompute every link: (entries checked, breaks, the head (id, link))."""
        breaks: list[ChainBreak] = []
        previous, checked, head = GENESIS, 0, None
        for entry, stored in self._all():
            checked += 1
            if stored is None:
                breaks.append(ChainBreak(entry.id, "the entry has no chain link"))
                continue
            if link(previous, entry) != stored:
                breaks.append(
                    ChainBreak(
                        entry.id,
                        "the entry, or one before it, was changed or removed",
                    )
                )
            previous = stored
            head = (entry.id, stored.hex())
        return checked, breaks, head

    def head(self) -> tuple[int, str] | None:
        """The newest entry's id and link."""
        with self.db.reading() as cur:
            row = cur.execute(
                "SELECT id, chain FROM access_log ORDER BY id DESC LIMIT 1"
            ).fetchone()
        if row is None or row["chain"] is None:
            return None
        return int(row["id"]), bytes(row["chain"]).hex()

    def _all(self) -> Iterator[tuple[AccessEntry, bytes | None]]:
        after = 0
        while True:
            with self.db.reading() as cur:
                rows = cur.execute(
                    "SELECT * FROM access_log WHERE id > ? ORDER BY id LIMIT 1000",
                    (after,),
                ).fetchall()
                batch = self._entries(cur, rows)
            if not batch:
                return
            yield from batch
            after = batch[-1][0].id

    def _entries(
        self, cur: Cursor, rows: Sequence[Any]
    ) -> list[tuple[AccessEntry, bytes | None]]:
        ids = [row["id"] for row in rows]
        episodes: dict[int, list[UUID]] = {entry_id: [] for entry_id in ids}
        if ids:
            marks = ", ".join("?" * len(ids))
            for found in cur.execute(
                "SELECT entry_id, episode_id FROM access_log_episodes "
                f"WHERE entry_id IN ({marks}) ORDER BY episode_id",
                ids,
            ).fetchall():
                episodes[found["entry_id"]].append(UUID(str(found["episode_id"])))
        return [
            (
                AccessEntry(
                    id=row["id"],
                    at=self.db.dialect.from_db("timestamp", row["at"]),
                    principal_id=row["principal_id"],
                    role=row["role"],
                    action=row["action"],
                    episode_ids=episodes[row["id"]],
                    request_id=row["request_id"],
                    outcome=row["outcome"],
                ),
                bytes(row["chain"]) if row["chain"] is not None else None,
            )
            for row in rows
        ]

    def _insert(self, cur: Cursor, entry: AccessEntry, chain: bytes) -> int:
        statement = (
            "INSERT INTO access_log (at, principal_id, role, action, request_id, "
            "outcome, chain) VALUES (?, ?, ?, ?, ?, ?, ?)"
        )
        values = (
            self.db.dialect.param(entry.at),
            entry.principal_id,
            entry.role,
            entry.action,
            entry.request_id,
            entry.outcome,
            chain,
        )
        if self.is_sqlite:
            return int(cur.execute(statement, values).raw.lastrowid)
        row = cur.execute(statement + " RETURNING id", values).fetchone()
        assert row is not None
        return int(row["id"])

    @staticmethod
    def _add_sqlite_chain_column(cur: Cursor) -> None:
        # Logs written before entries were chained: add the column, once.
        columns = {
            r["name"] for r in cur.execute("PRAGMA table_info(access_log)").fetchall()
        }
        if "chain" not in columns:
            cur.execute("ALTER TABLE access_log ADD COLUMN chain BLOB")
