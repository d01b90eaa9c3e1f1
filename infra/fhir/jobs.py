"""Bulk export jobs as rows of `fhir_export_jobs`, so a job outlives the process that
accepted it: any worker claims a queued job, or one whose worker stopped beating."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from infra.database import Database

TABLE = "fhir_export_jobs"
UNFINISHED = ("queued", "running")

_COLUMNS = {
    "sqlite": {"text": "TEXT", "int": "INTEGER", "time": "TEXT"},
    "postgres": {"text": "text", "int": "bigint", "time": "timestamptz"},
}


def create_statements(backend: str) -> list[str]:
    """The jobs table on `backend` ("sqlite" or "postgres")."""
    t = _COLUMNS[backend]
    return [
        f"CREATE TABLE IF NOT EXISTS {TABLE} ("
        f"id {t['text']} PRIMARY KEY, principal_id {t['text']} NOT NULL, "
        f"role {t['text']} NOT NULL, request {t['text']} NOT NULL, "
        f"types {t['text']} NOT NULL, since {t['time']}, "
        f"since_position {t['int']} NOT NULL, head_position {t['int']} NOT NULL, "
        f"transaction_time {t['time']} NOT NULL, state {t['text']} NOT NULL, "
        f"worker {t['text']}, heartbeat_at {t['time']}, done {t['int']} NOT NULL, "
        f"total {t['int']} NOT NULL, output {t['text']}, error {t['text']}, "
        f"created_at {t['time']} NOT NULL, finished_at {t['time']}, "
        f"expires_at {t['time']})",
        f"CREATE INDEX IF NOT EXISTS {TABLE}_state ON {TABLE} (state, created_at)",
    ]


@dataclass(frozen=True)
class OutputFile:
    """One NDJSON file of a finished job: its resource type and line count."""

    type: str
    count: int


@dataclass(frozen=True)
class ExportJob:
    """One bulk export request and how far it got."""

    id: UUID
    principal_id: str
    role: str
    request: str
    types: tuple[str, ...]
    since: datetime | None
    since_position: int
    head_position: int
    transaction_time: datetime
    created_at: datetime
    state: str = "queued"
    worker: str | None = None
    done: int = 0
    total: int = 0
    output: tuple[OutputFile, ...] = field(default_factory=tuple)
    error: str | None = None
    expires_at: datetime | None = None


class ExportJobs:
    """The jobs table: create, claim, beat, finish, cancel, expire."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.param = db.dialect.param

    def create_tables(self) -> None:
        """Create the table if missing."""
        with self.db.writing() as cur:
            for statement in create_statements(self.db.dialect.name):
                cur.execute(statement)

    def add(self, job: ExportJob) -> None:
        """Queue a new job."""
        with self.db.writing() as cur:
            cur.execute(
                f"INSERT INTO {TABLE} (id, principal_id, role, request, types, since, "
                "since_position, head_position, transaction_time, state, done, total, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', 0, 0, ?)",
                [
                    str(job.id),
                    job.principal_id,
                    job.role,
                    job.request,
                    json.dumps(list(job.types)),
                    self.param(job.since),
                    job.since_position,
                    job.head_position,
                    self.param(job.transaction_time),
                    self.param(job.created_at),
                ],
            )

    def get(self, job_id: UUID) -> ExportJob | None:
        """The job, whatever its state."""
        with self.db.reading() as cur:
            row = cur.execute(f"SELECT * FROM {TABLE} WHERE id = ?", [str(job_id)])
            found = row.fetchone()
        return None if found is None else self._job(found)

    def unfinished(self, principal_id: str) -> int:
        """How many of this principal's jobs are queued or running."""
        with self.db.reading() as cur:
            row = cur.execute(
                f"SELECT COUNT(*) AS n FROM {TABLE} WHERE principal_id = ? "
                "AND state IN ('queued', 'running')",
                [principal_id],
            ).fetchone()
        return int(row["n"]) if row else 0

    def claim(
        self, worker: str, now: datetime, stale_before: datetime
    ) -> ExportJob | None:
        """Take the oldest queued job, or a running one whose worker went quiet."""
        with self.db.reading() as cur:
            rows = cur.execute(
                f"SELECT id FROM {TABLE} WHERE state = 'queued' OR (state = 'running' "
                "AND heartbeat_at < ?) ORDER BY created_at LIMIT 5",
                [self.param(stale_before)],
            ).fetchall()
        for row in rows:
            with self.db.writing() as cur:
                # Compare-and-set: of several workers, one wins each job.
                taken = cur.execute(
                    f"UPDATE {TABLE} SET state = 'running', worker = ?, heartbeat_at = ?, "
                    "done = 0 WHERE id = ? AND (state = 'queued' OR (state = 'running' "
                    "AND heartbeat_at < ?))",
                    [worker, self.param(now), row["id"], self.param(stale_before)],
                ).rowcount
            if taken:
                return self.get(UUID(str(row["id"])))
        return None

    def beat(
        self, job_id: UUID, worker: str, now: datetime, done: int, total: int
    ) -> bool:
        """Report progress; False when the job is no longer this worker's to run
        (cancelled, or taken over after a stall)."""
        with self.db.writing() as cur:
            return bool(
                cur.execute(
                    f"UPDATE {TABLE} SET heartbeat_at = ?, done = ?, total = ? "
                    "WHERE id = ? AND worker = ? AND state = 'running'",
                    [self.param(now), done, total, str(job_id), worker],
                ).rowcount
            )

    def finish(
        self,
        job_id: UUID,
        worker: str,
        now: datetime,
        expires_at: datetime,
        output: Sequence[OutputFile],
        done: int,
    ) -> bool:
        """Mark the job completed with its files; False if it was not ours any more."""
        files = json.dumps([{"type": f.type, "count": f.count} for f in output])
        with self.db.writing() as cur:
            return bool(
                cur.execute(
                    f"UPDATE {TABLE} SET state = 'completed', output = ?, done = ?, "
                    "total = ?, finished_at = ?, expires_at = ? "
                    "WHERE id = ? AND worker = ? AND state = 'running'",
                    [
                        files,
                        done,
                        done,
                        self.param(now),
                        self.param(expires_at),
                        str(job_id),
                        worker,
                    ],
                ).rowcount
            )

    def fail(self, job_id: UUID, worker: str, now: datetime, error: str) -> None:
        """Mark the job failed, saying why."""
        with self.db.writing() as cur:
            cur.execute(
                f"UPDATE {TABLE} SET state = 'failed', error = ?, finished_at = ? "
                "WHERE id = ? AND worker = ? AND state = 'running'",
                [error[:500], self.param(now), str(job_id), worker],
            )

    def cancel(self, job_id: UUID, now: datetime) -> str | None:
        """Cancel a queued or running job, or release a finished one's files; the
        state it had (None if there is no such job, or it is already gone)."""
        # Compare-and-set on the state read: a worker may claim or finish the job
        # between the read and the write, and then the state to leave is another.
        for _ in range(5):
            job = self.get(job_id)
            if job is None or job.state not in (*UNFINISHED, "completed", "failed"):
                return None
            gone = "cancelled" if job.state in UNFINISHED else "deleted"
            with self.db.writing() as cur:
                changed = cur.execute(
                    f"UPDATE {TABLE} SET state = ?, finished_at = ? "
                    "WHERE id = ? AND state = ?",
                    [gone, self.param(now), str(job_id), job.state],
                ).rowcount
            if changed:
                return job.state
        return None

    def expired(self, now: datetime) -> list[UUID]:
        """Completed jobs past their expiry, marked expired (their files may go)."""
        with self.db.writing() as cur:
            rows = cur.execute(
                f"SELECT id FROM {TABLE} WHERE state = 'completed' AND expires_at < ?",
                [self.param(now)],
            ).fetchall()
            for row in rows:
                cur.execute(
                    f"UPDATE {TABLE} SET state = 'expired' WHERE id = ? "
                    "AND state = 'completed'",
                    [row["id"]],
                )
        return [UUID(str(row["id"])) for row in rows]

    def _job(self, row: Any) -> ExportJob:
        time = self.db.dialect.from_db
        output = json.loads(row["output"]) if row["output"] else []
        return ExportJob(
            id=UUID(str(row["id"])),
            principal_id=row["principal_id"],
            role=row["role"],
            request=row["request"],
            types=tuple(json.loads(row["types"])),
            since=time("timestamp", row["since"]),
            since_position=int(row["since_position"]),
            head_position=int(row["head_position"]),
            transaction_time=time("timestamp", row["transaction_time"]),
            created_at=time("timestamp", row["created_at"]),
            state=row["state"],
            worker=row["worker"],
            done=int(row["done"]),
            total=int(row["total"]),
            output=tuple(OutputFile(f["type"], int(f["count"])) for f in output),
            error=row["error"],
            expires_at=time("timestamp", row["expires_at"]),
        )
