"""Erasure of one patient's data (GDPR Art. 17 where it applies): crypto-shredding.

Each of the patient's episodes first gets an `EpisodeErased` event (stored in
plain: it holds no patient data), while the key can still seal the record as it
closes; then every data key of the patient is deleted in one transaction and
noted in `erased_keys`; then the episode index forgets the patient's id. The
events stay where they are and the hash chains still verify (they cover the
ciphertext), but no one can read the payloads again; the read models remove
the episodes' rows when they reach the `EpisodeErased` events, and a rebuild
never sees them. Each erasure is recorded in `erasures`: who asked, who
approved, when, how many episodes and keys, and why; not whose.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID, uuid4

from domain import commands as cmd
from domain.application import CareEpisodes
from domain.errors import NOT_FOUND, DomainError, EpisodeNotFound, PatientDataErased
from domain.events import EpisodeEvent
from domain.values import Actor
from infra.crypto import envelope_of, is_sealed
from infra.database import Database
from infra.encryption import data_keys

_SCHEMA = {
    "sqlite": "CREATE TABLE IF NOT EXISTS erasures (erasure_id TEXT PRIMARY KEY, "
    "at TEXT NOT NULL, requested_by TEXT NOT NULL, approved_by TEXT NOT NULL, "
    "reason TEXT NOT NULL, episodes INTEGER NOT NULL, data_keys INTEGER NOT NULL)",
    "postgres": "CREATE TABLE IF NOT EXISTS erasures (erasure_id uuid PRIMARY KEY, "
    "at timestamptz NOT NULL, requested_by text NOT NULL, approved_by text NOT NULL, "
    "reason text NOT NULL, episodes integer NOT NULL, data_keys integer NOT NULL)",
}
ERASED_PATIENT = ""
"""What the episode index holds for an erased episode's patient."""


class ErasureRefused(DomainError):
    """An erasure this store cannot, or may not, carry out; nothing was erased."""


class NothingToErase(ErasureRefused):
    """The store holds no data of the patient."""

    kind = NOT_FOUND


@dataclass(frozen=True)
class Erasure:
    """What an erasure did."""

    erasure_id: UUID
    at: datetime
    episodes: list[UUID]
    data_keys: int
    requested_by: str
    approved_by: str


def create_erasure_table(db: Database) -> None:
    """The table that records each erasure."""
    with db.writing() as cur:
        cur.execute(_SCHEMA[db.dialect.name])


def erase_patient(
    episodes: CareEpisodes,
    patient_id: str,
    *,
    requested_by: Actor,
    approved_by: str,
    reason: str,
) -> Erasure:
    """Crypto-shred every episode of `patient_id`; what was erased.

    `approved_by` names the second person who approved it (the caller checks
    who they are); it must not be the one who asked.
    """
    keys = data_keys(episodes)
    if keys is None:
        raise ErasureRefused(
            "payloads are stored in plain here (CARE_ENCRYPT_EVENTS=false): "
            "erasure would have nothing to delete"
        )
    if approved_by == requested_by.principal_id:
        raise ErasureRefused("an erasure needs a second approver, not the requester")
    if not reason.strip():
        raise ErasureRefused("an erasure says why it is made")
    db = Database(episodes)
    found = _episodes_of(db, patient_id)
    if not found and keys.key_of_patient(patient_id) is None:
        raise NothingToErase(f"no data of patient {patient_id} is held here")
    erasure_id, at = uuid4(), datetime.now(UTC)
    for episode_id in found:
        command = cmd.EraseEpisode(
            episode_id=episode_id, occurred_at=at, erasure_id=erasure_id
        )
        # Erased already: an earlier erasure that stopped half-way.
        with contextlib.suppress(PatientDataErased):
            episodes.handle(command, actor=requested_by)
    deleted = keys.erase_patient(patient_id, erasure_id, at)
    with db.writing() as cur:
        for episode_id in found:
            cur.execute(
                "UPDATE episode_index SET patient_id = ?, status = 'erased' "
                "WHERE episode_id = ?",
                (ERASED_PATIENT, _id(db, episode_id)),
            )
        cur.execute(
            "INSERT INTO erasures (erasure_id, at, requested_by, approved_by, reason, "
            "episodes, data_keys) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                _id(db, erasure_id),
                db.dialect.param(at),
                requested_by.principal_id,
                approved_by,
                reason,
                len(found),
                len(deleted),
            ),
        )
    return Erasure(
        erasure_id, at, found, len(deleted), requested_by.principal_id, approved_by
    )


@dataclass(frozen=True)
class ErasedEntry:
    """One stored event of an erased episode: what stays readable without the key."""

    version: int
    type: str
    occurred_at: datetime | None
    recorded_at: datetime | None
    erased: bool
    """Its content can no longer be read (False: stored in plain, as EpisodeErased
    is, or as events recorded with encryption off are)."""

    def public(self) -> dict[str, object]:
        """The entry as JSON (times in ISO 8601)."""
        return {
            "version": self.version,
            "type": self.type,
            "occurred_at": _iso(self.occurred_at),
            "recorded_at": _iso(self.recorded_at),
            "content": "erased" if self.erased else "plain",
        }


def erased_history(episodes: CareEpisodes, episode_id: UUID) -> list[ErasedEntry]:
    """Every stored event of an episode, oldest first, as far as it stays readable
    once its patient's key is gone: version, type and times (from each sealed
    payload's plain envelope); never its content."""
    records = episodes.records.select_episode_records(episode_id)
    if not records:
        raise EpisodeNotFound(episode_id)
    entries = []
    for record in records:
        kind = record.topic.rsplit(":", 1)[-1]
        if is_sealed(record.state):
            times = envelope_of(record.state)
            occurred, recorded = times.get("occurred_at"), times.get("recorded_at")
            entries.append(
                ErasedEntry(
                    record.originator_version,
                    kind,
                    datetime.fromisoformat(occurred) if occurred else None,
                    datetime.fromisoformat(recorded) if recorded else None,
                    erased=True,
                )
            )
            continue
        event = episodes.mapper.to_domain_event(record)
        assert isinstance(event, EpisodeEvent)
        entries.append(
            ErasedEntry(
                record.originator_version,
                kind,
                event.occurred_at,
                event.timestamp,
                erased=False,
            )
        )
    return entries


def was_erased(
    episodes: CareEpisodes, episode_id: UUID, head: int | None = None
) -> bool:
    """Whether the episode's patient data was erased: its newest stored event is
    the EpisodeErased that every erasure appends (nothing may follow it). `head`:
    the newest version, when the caller has just read it."""
    if head is None:
        head = episodes.records.select_head_version(episode_id)
    if head is None:
        return False
    newest = episodes.records.select_episode_records(episode_id, gt=head - 1)
    return bool(newest) and newest[0].topic.endswith(":EpisodeErased")


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _episodes_of(db: Database, patient_id: str) -> list[UUID]:
    with db.reading() as cur:
        rows = cur.execute(
            "SELECT episode_id FROM episode_index WHERE patient_id = ? "
            "ORDER BY opened_at, episode_id",
            (patient_id,),
        ).fetchall()
    return [UUID(str(row["episode_id"])) for row in rows]


def _id(db: Database, value: UUID) -> object:
    return str(value) if db.dialect.name == "sqlite" else value
