"""The episode index: found without reading any event, written with the events.

One row per episode (patient, opening, status, assignee, version) and one per
referrer, upserted by the recorders in the same transaction as the events they
describe, so the index is never behind the store. It answers GET /episodes
(keyset paging on (opened_at, episode_id)) and, in one indexed lookup, whether a
physician referred an episode: the same cost for any episode, found or not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain.records import IndexEntry

if TYPE_CHECKING:
    from infra.database import Database

# Columns shared by both backends; the id and time types differ.
_TABLES = {
    "sqlite": [
        "CREATE TABLE IF NOT EXISTS episode_index (episode_id TEXT PRIMARY KEY, "
        "patient_id TEXT NOT NULL, opened_at TEXT NOT NULL, status TEXT NOT NULL, "
        "assignee_id TEXT, version INTEGER NOT NULL)",
        "CREATE TABLE IF NOT EXISTS episode_referrers (episode_id TEXT NOT NULL, "
        "referrer_id TEXT NOT NULL, opened_at TEXT NOT NULL, "
        "PRIMARY KEY (episode_id, referrer_id))",
    ],
    "postgres": [
        "CREATE TABLE IF NOT EXISTS episode_index (episode_id uuid PRIMARY KEY, "
        "patient_id text NOT NULL, opened_at timestamptz NOT NULL, "
        "status text NOT NULL, assignee_id text, version bigint NOT NULL)",
        "CREATE TABLE IF NOT EXISTS episode_referrers (episode_id uuid NOT NULL, "
        "referrer_id text NOT NULL, opened_at timestamptz NOT NULL, "
        "PRIMARY KEY (episode_id, referrer_id))",
    ],
}
_INDEXES = [
    "CREATE INDEX IF NOT EXISTS episode_index_opened ON episode_index "
    "(opened_at, episode_id)",
    "CREATE INDEX IF NOT EXISTS episode_index_patient ON episode_index "
    "(patient_id, opened_at, episode_id)",
    "CREATE INDEX IF NOT EXISTS episode_index_assignee ON episode_index "
    "(assignee_id, opened_at, episode_id)",
    "CREATE INDEX IF NOT EXISTS episode_index_status ON episode_index "
    "(status, opened_at, episode_id)",
    "CREATE INDEX IF NOT EXISTS episode_referrers_referrer ON episode_referrers "
    "(referrer_id, opened_at, episode_id)",
]
UPSERT = (
    "INSERT INTO episode_index (episode_id, patient_id, opened_at, status, "
    "assignee_id, version) VALUES ({p}, {p}, {p}, {p}, {p}, {p}) "
    "ON CONFLICT (episode_id) DO UPDATE SET status = excluded.status, "
    "assignee_id = excluded.assignee_id, version = excluded.version "
    "WHERE excluded.version > episode_index.version"
)
REFERRER = (
    "INSERT INTO episode_referrers (episode_id, referrer_id, opened_at) "
    "VALUES ({p}, {p}, {p}) ON CONFLICT (episode_id, referrer_id) DO NOTHING"
)


def create_statements(backend: str) -> list[str]:
    """DDL of the index tables on `backend` ("sqlite" or "postgres")."""
    return [*_TABLES[backend], *_INDEXES]


def rows(
    entries: Sequence[IndexEntry], *, id_of: Any, time_of: Any
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The index and referrer rows of `entries`, ids and times as the backend stores them."""
    latest: dict[UUID, IndexEntry] = {}
    for entry in entries:
        kept = latest.get(entry.episode_id)
        if kept is None or entry.version > kept.version:
            latest[entry.episode_id] = entry
    index = [
        (id_of(e.episode_id), e.patient_id, time_of(e.opened_at), e.status,
         e.assignee_id, e.version)
        for e in latest.values()
    ]  # fmt: skip
    referrers = [
        (id_of(e.episode_id), referrer, time_of(e.opened_at))
        for e in latest.values()
        for referrer in e.referrer_ids
    ]
    return index, referrers


@dataclass(frozen=True)
class EpisodeFilters:
    """What GET /episodes narrows the episodes to."""

    patient_id: str | None = None
    referrer_id: str | None = None
    assignee_id: str | None = None
    status: str | None = None
    opened_from: datetime | None = None
    opened_before: datetime | None = None
    physician_id: str | None = None
    """Only episodes this physician referred (a physician caller's scope)."""


@dataclass(frozen=True)
class IndexedEpisode:
    """One episode as the index holds it."""

    episode_id: UUID
    patient_id: str
    opened_at: datetime
    status: str
    assignee_id: str | None
    version: int


PageKey = tuple[datetime, str]


class EpisodeIndex:
    """Queries of the episode index."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def search(
        self, filters: EpisodeFilters, after: PageKey | None, limit: int
    ) -> tuple[list[IndexedEpisode], PageKey | None]:
        """One page of episodes in the order they opened, and the next page's key."""
        where: list[str] = []
        params: list[Any] = []
        # With a referrer, its rows drive the page: they carry the episode's
        # opening, so (referrer_id, opened_at, episode_id) is walked in page order
        # (an EXISTS walked every episode in order to find the referrer's).
        source, key = "episode_index e", "e"
        referrers = [
            r for r in (filters.referrer_id, filters.physician_id) if r is not None
        ]
        if referrers:
            source = "episode_referrers k JOIN episode_index e ON e.episode_id = k.episode_id"
            key = "k"
            where.append("k.referrer_id = ?")
            params.append(referrers[0])
        for referrer in referrers[1:]:
            where.append(
                "EXISTS (SELECT 1 FROM episode_referrers r WHERE "
                "r.episode_id = e.episode_id AND r.referrer_id = ?)"
            )
            params.append(referrer)
        for column, value in (
            ("patient_id", filters.patient_id),
            ("assignee_id", filters.assignee_id),
            ("status", filters.status),
        ):
            if value is not None:
                where.append(f"e.{column} = ?")
                params.append(value)
        if filters.opened_from is not None:
            where.append(f"{key}.opened_at >= ?")
            params.append(filters.opened_from)
        if filters.opened_before is not None:
            where.append(f"{key}.opened_at < ?")
            params.append(filters.opened_before)
        if after is not None:
            # A row comparison: the index range starts at the key (the OR form
            # was a filter over every earlier row).
            where.append(f"({key}.opened_at, {key}.episode_id) > (?, ?)")
            params += [after[0], after[1]]
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        with self.db.reading() as cur:
            found = cur.execute(
                f"SELECT e.* FROM {source} {clause}"
                f"ORDER BY {key}.opened_at, {key}.episode_id LIMIT ?",
                [self._param(p) for p in params] + [limit + 1],
            ).fetchall()
        page = [self._episode(row) for row in found[:limit]]
        more = len(found) > limit and page
        last = page[-1] if more else None
        return page, (last.opened_at, str(last.episode_id)) if last else None

    def referred(self, episode_id: UUID, referrer_id: str) -> bool:
        """Whether `referrer_id` referred the patient into the episode."""
        with self.db.reading() as cur:
            row = cur.execute(
                "SELECT 1 AS found FROM episode_referrers "
                "WHERE episode_id = ? AND referrer_id = ?",
                (self._param(episode_id), referrer_id),
            ).fetchone()
        return row is not None

    def count(self) -> int:
        """How many episodes the index holds."""
        with self.db.reading() as cur:
            row = cur.execute("SELECT COUNT(*) AS n FROM episode_index").fetchone()
        return int(row["n"]) if row else 0

    def _param(self, value: Any) -> Any:
        if isinstance(value, UUID) and self.db.dialect.name == "sqlite":
            return str(value)
        return self.db.dialect.param(value)

    def _episode(self, row: Any) -> IndexedEpisode:
        return IndexedEpisode(
            episode_id=UUID(str(row["episode_id"])),
            patient_id=row["patient_id"],
            opened_at=self.db.dialect.from_db("timestamp", row["opened_at"]),
            status=row["status"],
            assignee_id=row["assignee_id"],
            version=int(row["version"]),
        )


def replayed(events: Sequence[Any]) -> Any:
    """The aggregate these events (an episode's own, in version order) leave."""
    aggregate = None
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate
