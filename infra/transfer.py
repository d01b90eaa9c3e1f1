"""Export and import of episodes: JSON lines, one episode a line, with everything stored.

Each line holds the episode's events with their versions, global positions,
times, actors, data (readable) and the stored bytes themselves (`state`, base64)
with their hash-chain link. Import writes those same bytes back, in the original
global order, so the chains (and `verify`'s digest) come out identical and the
read models project the same; it checks everything before writing anything and
refuses episodes the store already holds.

Sealed payloads stay sealed: the line carries the data keys that seal them
(`keys`: key id to the key in base64, null for a key an erasure deleted), and
the import keeps each under its own store's master key. So an export file is as
secret as the store and its master key together (it holds the readable data
too): it is written owner-only. An erased episode travels as it is stored, its
payloads unreadable on both sides, its key recorded as erased.
"""

from __future__ import annotations

import base64
import heapq
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from domain.application import CareEpisodes
from domain.errors import PatientDataErased
from domain.events import EpisodeErased, EpisodeEvent, ReferralReceived
from domain.plain import plain
from domain.records import ChainedNotification, IndexEntry
from infra.chain import GENESIS, chain_link
from infra.crypto import SealError, is_sealed, key_id_of
from infra.encryption import data_keys
from infra.episode_index import replayed
from infra.eventstore import chained_recorder, episode_records

FORMAT = "care-episodes/1"
BATCH = 1000


class TransferError(Exception):
    """An export file that cannot be imported as it is; nothing was written."""


@dataclass(frozen=True)
class Selection:
    """Which episodes to export: all, or those of some patients, opened in a window."""

    patients: frozenset[str] = frozenset()
    opened_from: datetime | None = None
    opened_before: datetime | None = None

    def wants(self, patient_id: str, opened: datetime) -> bool:
        if self.patients and patient_id not in self.patients:
            return False
        if self.opened_from is not None and opened < self.opened_from:
            return False
        return self.opened_before is None or opened < self.opened_before


def export(
    episodes: CareEpisodes, out: IO[str], selection: Selection = Selection()
) -> tuple[int, int]:
    """Write the selected episodes as JSON lines; (episodes, events) written."""
    written = events = 0
    for records in episode_records(chained_recorder(episodes)):
        decoded = [_decoded(episodes, record) for record in records]
        opening = decoded[0]
        if opening is None:  # erased: its patient is no longer known
            if selection.patients or selection.opened_from or selection.opened_before:
                continue
            patient_id = None
        else:
            assert isinstance(opening, ReferralReceived)
            if not selection.wants(opening.patient_id, opening.occurred_at):
                continue
            patient_id = opening.patient_id
        line = {
            "format": FORMAT,
            "episode_id": str(records[0].originator_id),
            "patient_id": patient_id,
            "keys": _keys_of(episodes, records),
            "events": [
                _event_line(r, e) for r, e in zip(records, decoded, strict=True)
            ],
        }
        out.write(json.dumps(line, separators=(",", ":"), default=str) + "\n")
        written += 1
        events += len(records)
    return written, events


def import_file(
    episodes: CareEpisodes,
    path: Path,
    *,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[int, int]:
    """Import an export file into the store; (episodes, events) imported.

    Every line is checked first (format, versions, each event's chain link
    recomputed from its bytes) and the store must hold none of its episodes;
    only then are the events written, in their original global order.
    """
    recorder = chained_recorder(episodes)
    index: list[tuple[int, int, int]] = []  # (position, line offset, event index)
    ids: list[UUID] = []
    for offset, line in _lines(path):
        episode_id, positions = _check(line, offset)
        ids.append(episode_id)
        index += [(position, offset, i) for i, position in enumerate(positions)]
    existing = [str(i) for i in ids if recorder.select_episode_records(i, lte=1)]
    if existing:
        listed = ", ".join(existing[:5]) + (" …" if len(existing) > 5 else "")
        raise TransferError(
            f"the store already holds {len(existing)} of these episodes ({listed}); "
            "nothing was imported"
        )
    _adopt_keys(episodes, path)
    heapq.heapify(index)
    total, written = len(index), 0
    lines = _LineCache(path, episodes)
    batch: list[StoredEvent] = []
    entries: list[IndexEntry] = []
    while index:
        _, offset, i = heapq.heappop(index)
        stored, entry = lines.event(offset, i)
        batch.append(stored)
        if entry is not None:  # the episode's last event: index it as it ends
            entries.append(entry)
        if len(batch) >= BATCH or not index:
            recorder.insert_events(batch, index=entries)
            written += len(batch)
            batch, entries = [], []
            if on_progress is not None:
                on_progress(written, total)
    return len(ids), written


# -- export ------------------------------------------------------------------------


def _decoded(
    episodes: CareEpisodes, record: ChainedNotification
) -> EpisodeEvent | None:
    """The event, or None where its patient's key was erased."""
    try:
        event = episodes.mapper.to_domain_event(record)
    except PatientDataErased:
        return None
    assert isinstance(event, EpisodeEvent)
    return event


def _keys_of(
    episodes: CareEpisodes, records: list[ChainedNotification]
) -> dict[str, str | None]:
    """The data keys that seal these records (None: erased), in base64."""
    ids = {key_id_of(r.state) for r in records if is_sealed(r.state)}
    keys = data_keys(episodes)
    if ids and keys is None:
        raise TransferError("the store is sealed, and encryption is off here")
    assert keys is not None or not ids
    found: dict[str, str | None] = {}
    for key_id in sorted(ids):
        secret = keys.secret_of(key_id) if keys else None
        found[str(key_id)] = base64.b64encode(secret).decode() if secret else None
    return found


def _event_line(
    record: ChainedNotification, event: EpisodeEvent | None
) -> dict[str, Any]:
    if event is None:
        return {
            "version": record.originator_version,
            "position": record.id,
            "type": None,
            "topic": record.topic,
            "erased": True,
            "chain_hash": record.chain_hash.hex(),
            "state": base64.b64encode(record.state).decode(),
        }
    return {
        "version": record.originator_version,
        "position": record.id,
        "type": type(event).__name__,
        "topic": record.topic,
        "occurred_at": event.occurred_at.isoformat(),
        "recorded_at": event.timestamp.isoformat(),
        "actor": {
            "principal_id": event.actor.principal_id,
            "role": event.actor.role.value,
        },
        "idempotency_key": event.idempotency.key if event.idempotency else None,
        "data": plain(event.data),
        "chain_hash": record.chain_hash.hex(),
        "state": base64.b64encode(record.state).decode(),
    }


# -- import ------------------------------------------------------------------------


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        with path.open("rb") as file:
            offset = 0
            for raw in file:
                if raw.strip():
                    yield offset, _parse(raw, offset)
                offset += len(raw)
    except OSError as error:
        raise TransferError(f"cannot read {path}: {error}") from None


def _parse(raw: bytes, offset: int) -> dict[str, Any]:
    try:
        line = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise TransferError(f"the line at byte {offset} is not JSON: {error}") from None
    if not isinstance(line, dict) or line.get("format") != FORMAT:
        raise TransferError(f"the line at byte {offset} is not a {FORMAT} episode")
    return line


def _check(line: dict[str, Any], offset: int) -> tuple[UUID, list[int]]:
    """The episode's id and its events' positions, if its chain holds."""
    where = f"the episode at byte {offset}"
    try:
        episode_id = UUID(str(line["episode_id"]))
        previous, positions = GENESIS, []
        for version, event in enumerate(line["events"], start=1):
            if event["version"] != version:
                raise TransferError(f"{where} skips from version {version - 1}")
            state = base64.b64decode(event["state"], validate=True)
            link = chain_link(previous, episode_id, version, event["topic"], state)
            if link.hex() != event["chain_hash"]:
                raise TransferError(f"{where}: version {version} breaks its hash chain")
            previous = link
            positions.append(int(event["position"]))
    except (KeyError, TypeError, ValueError) as error:
        raise TransferError(f"{where} is malformed: {error!r}") from None
    if not positions:
        raise TransferError(f"{where} has no events")
    return episode_id, positions


def _adopt_keys(episodes: CareEpisodes, path: Path) -> None:
    """Keep the data keys the file carries, wrapped by this store's master key."""
    keys = data_keys(episodes)
    for offset, line in _lines(path):
        carried = line.get("keys") or {}
        if not carried:
            continue
        if keys is None:
            raise TransferError(
                "the export holds sealed payloads, and this store has encryption "
                "off (CARE_ENCRYPT_EVENTS): nothing was imported"
            )
        erasure = _erasure_of(episodes, line)
        try:
            for key_id, secret in carried.items():
                raw = base64.b64decode(secret, validate=True) if secret else None
                keys.adopt(line.get("patient_id") or "", UUID(key_id), raw, erasure)
        except (SealError, ValueError, TypeError) as error:
            raise TransferError(
                f"the episode at byte {offset} brings a data key that cannot be "
                f"kept: {error}"
            ) from None


def _erasure_of(episodes: CareEpisodes, line: dict[str, Any]) -> UUID:
    # EpisodeErased is stored in plain: the erasure's id is readable even here.
    for i, event in enumerate(line["events"]):
        if event["topic"].endswith(":EpisodeErased"):
            decoded = episodes.mapper.to_domain_event(_LineCache.stored(line, i))
            if isinstance(decoded, EpisodeErased):
                return decoded.erasure_id
    return UUID(int=0)


class _LineCache:
    """Episode lines read back for import, each kept until its last event is out."""

    def __init__(self, path: Path, episodes: CareEpisodes) -> None:
        self.file = path.open("rb")
        self.episodes = episodes
        self.lines: dict[int, tuple[dict[str, Any], set[int]]] = {}

    def event(self, offset: int, index: int) -> tuple[StoredEvent, IndexEntry | None]:
        """One stored event of a line, and the episode's index entry with its last."""
        if offset not in self.lines:
            self.file.seek(offset)
            line = json.loads(self.file.readline())
            self.lines[offset] = (line, set(range(len(line["events"]))))
        line, left = self.lines[offset]
        left.discard(index)
        stored = self.stored(line, index)
        if left:
            return stored, None
        del self.lines[offset]
        if any(event.get("erased") for event in line["events"]):
            return stored, None  # an erased episode is not indexed
        events = [
            self.episodes.mapper.to_domain_event(self.stored(line, i))
            for i in range(len(line["events"]))
        ]
        return stored, replayed(events).index_entry()

    @staticmethod
    def stored(line: dict[str, Any], index: int) -> StoredEvent:
        event = line["events"][index]
        return StoredEvent(
            originator_id=UUID(line["episode_id"]),
            originator_version=event["version"],
            topic=event["topic"],
            state=base64.b64decode(event["state"]),
        )
