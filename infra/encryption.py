"""Per-patient encryption of event payloads: the mapper that seals and opens them.

The library's cipher has one key per application; here every payload is sealed
with its patient's own data key (`infra.keys`), so deleting that key shreds the
patient's record and nobody else's. Topics, ids, versions and times stay plain
(the stored event's columns); the payload says which key sealed it. Snapshots go
through the same mapper, so they are sealed too. `EpisodeErased` is stored in
plain: it holds no patient data, and the read models must still read it once
the key is gone.

The episode's key is known at encode time from the event (a referral or a
snapshot names the patient), from this process's memory of the episode, or
from the key id in the episode's first stored payload.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, StoredEvent

from domain.application import CareEpisodes
from domain.errors import PatientDataErased
from domain.events import EpisodeErased
from domain.records import EpisodeRecords
from infra.crypto import (
    MasterKey,
    SealError,
    associated_data,
    is_sealed,
    key_id_of,
    seal,
    unseal,
)
from infra.database import Database
from infra.files import check_private, private_file
from infra.keys import CACHE_SIZE, DataKeys, KeyErased, _Recent
from infra.recorders import ChainedPostgresApplicationRecorder as ChainedPostgres
from infra.recorders import ChainedSQLiteApplicationRecorder
from infra.settings import ConfigurationError, Settings

logger = logging.getLogger("care.keys")
PLAIN_EVENTS = (EpisodeErased,)
# The episode -> key mapping never changes while the key lives; entries expire
# only so memory stays bounded and an erased key is not used for long.
EPISODE_KEYS_TTL_S = 3600.0


class PatientMapper(Mapper[UUID]):
    """A mapper that seals each payload with the data key of its episode's patient.

    Without `keys` (encryption off) payloads are stored in plain, and a sealed
    one cannot be read.
    """

    keys: DataKeys | None = None
    records: EpisodeRecords | None = None

    def attach(self, keys: DataKeys, records: EpisodeRecords) -> None:
        """Seal from now on with `keys`; `records` finds an episode's first payload."""
        self.keys = keys
        self.records = records
        self._episodes: _Recent[UUID, UUID] = _Recent(EPISODE_KEYS_TTL_S, CACHE_SIZE)

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        stored = super().to_stored_event(domain_event)
        if self.keys is None or isinstance(domain_event, PLAIN_EVENTS):
            return stored
        episode_id = UUID(str(stored.originator_id))
        key_id = self._key_for(episode_id, domain_event)
        aad = associated_data(episode_id, stored.originator_version, stored.topic)
        try:
            aead = self.keys.cipher(key_id)
        except KeyErased:
            raise PatientDataErased(episode_id) from None
        return StoredEvent(
            originator_id=stored.originator_id,
            originator_version=stored.originator_version,
            topic=stored.topic,
            state=seal(key_id, aead, stored.state, aad, times_of(domain_event)),
        )

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        state = stored_event.state
        if is_sealed(state):
            state = self._open(stored_event)
        plain = StoredEvent(
            originator_id=stored_event.originator_id,
            originator_version=stored_event.originator_version,
            topic=stored_event.topic,
            state=state,
        )
        return super().to_domain_event(plain)

    def prefetch(self, stored_events: Iterable[StoredEvent]) -> None:
        """Open the keys of many stored events at once, before decoding them one
        by one (a projection batch or an export names hundreds of patients)."""
        if self.keys is None:
            return
        key_ids = set()
        for stored in stored_events:
            try:
                if is_sealed(stored.state):
                    key_ids.add(key_id_of(stored.state))
            except SealError:
                continue  # decoding it says what is wrong with it
        self.keys.prefetch(key_ids)

    def key_of_episode(self, episode_id: UUID) -> UUID | None:
        """The id of the data key that seals an episode's payloads (None: plain)."""
        assert self.records is not None
        first = self.records.select_episode_records(episode_id, lte=1)
        if not first or not is_sealed(first[0].state):
            return None
        return key_id_of(first[0].state)

    def _open(self, stored: StoredEvent) -> bytes:
        episode_id = UUID(str(stored.originator_id))
        if self.keys is None:
            raise SealError(
                f"episode {episode_id} is sealed, and encryption is off "
                "(CARE_ENCRYPT_EVENTS): set the master key to read it"
            )
        key_id = key_id_of(stored.state)
        try:
            aead = self.keys.cipher(key_id)
        except KeyErased:
            raise PatientDataErased(episode_id) from None
        aad = associated_data(episode_id, stored.originator_version, stored.topic)
        opened = unseal(aead, stored.state, aad)
        self._episodes.put(episode_id, key_id)
        return opened

    def _key_for(self, episode_id: UUID, event: Any) -> UUID:
        assert self.keys is not None
        patient_id = getattr(event, "patient_id", None)
        if patient_id is None:
            # A snapshot carries the episode's decision state, patient included.
            patient_id = (getattr(event, "state", None) or {}).get("patient_id")
        if isinstance(patient_id, str) and patient_id:
            key_id = self.keys.key_for_patient(patient_id)
        else:
            known = self._episodes.get(episode_id)
            key_id = known or self._first_key(episode_id)
        self._episodes.put(episode_id, key_id)
        return key_id

    def _first_key(self, episode_id: UUID) -> UUID:
        # The episode's opening payload names its key; an opening stored in plain
        # (before encryption) names the patient, who gets a key from now on.
        assert self.records is not None and self.keys is not None
        first = self.records.select_episode_records(episode_id, lte=1)
        if not first:
            raise SealError(f"episode {episode_id} has no opening event to seal after")
        if is_sealed(first[0].state):
            return key_id_of(first[0].state)
        opening = super().to_domain_event(first[0])
        return self.keys.key_for_patient(opening.patient_id)  # type: ignore[attr-defined]


def times_of(event: Any) -> dict[str, str]:
    """What a sealed payload's plain envelope holds: the event's times, nothing else."""
    times = {"recorded_at": event.timestamp.isoformat()}
    occurred = getattr(event, "occurred_at", None)
    if occurred is not None:
        times["occurred_at"] = occurred.isoformat()
    return times


def master_keys(settings: Settings) -> tuple[MasterKey, list[MasterKey]] | None:
    """The master key (and older ones still being rotated away), or None when
    encryption is off.

    PostgreSQL refuses to start without one (the record of every patient would
    otherwise be stored in plain, beyond erasure); the embedded SQLite store
    makes one beside its database on first start, like the development tokens;
    memory:// takes a fresh one (its store dies with the process).
    """
    if not settings.encrypt_events:
        return None
    older = settings.previous_master_keys
    previous = [
        MasterKey.from_text(text)
        for text in (older.get_secret_value() if older else "").split(",")
        if text.strip()
    ]
    if settings.master_key is not None:
        return MasterKey.from_text(settings.master_key.get_secret_value()), previous
    if settings.master_key_file is not None:
        return _read_key_file(settings.master_key_file), previous
    if settings.backend == "memory":
        return MasterKey.generate(), previous
    if settings.backend == "sqlite":
        path = settings.sqlite_path.with_name("master.key")
        if path.exists():
            return _read_key_file(path), previous
        key = MasterKey.generate()
        private_file(path).write_text(key.text + "\n")
        logger.warning(
            "wrote a new master key to %s (owner-only): back it up with the "
            "database, which cannot be read without it",
            path,
        )
        return key, previous
    raise ConfigurationError(
        "CARE_MASTER_KEY (or CARE_MASTER_KEY_FILE) is required with PostgreSQL: it "
        "wraps every patient's data key; `care-episodes keys generate` prints a new "
        "one (or set CARE_ENCRYPT_EVENTS=false to store payloads in plain, beyond "
        "erasure)"
    )


def _read_key_file(path: Any) -> MasterKey:
    check_private(path, "master key file")
    try:
        return MasterKey.from_text(path.read_text())
    except ValueError as error:
        raise ConfigurationError(f"master key file {path}: {error}") from None


def install_encryption(app: CareEpisodes, settings: Settings) -> DataKeys | None:
    """Seal `app`'s payloads per patient from now on (None: encryption is off)."""
    mapper = app.mapper
    if not isinstance(mapper, PatientMapper):
        raise TypeError(f"{type(mapper).__name__} cannot seal payloads per patient")
    masters = master_keys(settings)
    if masters is None:
        return None
    master, previous = masters
    keys = DataKeys(Database(app), master, previous, create=settings.create_tables)
    mapper.attach(keys, app.records)
    # A new patient's key is written in the transaction of its first events.
    recorder = app.recorder
    if not isinstance(recorder, ChainedSQLiteApplicationRecorder | ChainedPostgres):
        raise TypeError(f"{type(recorder).__name__} cannot store keys with events")
    recorder.rider = keys
    return keys


def data_keys(app: CareEpisodes) -> DataKeys | None:
    """The data keys `app` seals with (None: encryption is off)."""
    mapper = app.mapper
    return mapper.keys if isinstance(mapper, PatientMapper) else None


def prefetch_keys(app: CareEpisodes, stored_events: Iterable[StoredEvent]) -> None:
    """Open the data keys of many stored events at once (nothing when off)."""
    mapper = app.mapper
    if isinstance(mapper, PatientMapper):
        mapper.prefetch(stored_events)
