"""One bulk export: the store's episodes, up to a fixed position, as NDJSON per type.

The job's cut is the head of the global order when it was asked for: every event
at or before it, nothing after, so a long export is one consistent picture.
`_since` is a recorded instant, mapped to a global position; an episode with no
event after it is skipped without being read, and of the others only resources
shaped by an event after it are written. Files are written a line at a time (an
episode's resources at most are in memory) into a directory of their own, moved
into place only when complete.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO
from uuid import UUID

from domain.application import CareEpisodes
from domain.errors import PatientDataErased
from domain.events import EpisodeEvent
from domain.reading import read_episode
from domain.records import ChainedNotification
from infra.eventstore import chained_recorder, episode_records
from infra.fhir.jobs import ExportJob, OutputFile
from infra.files import private_dir
from projections.fhir_export import map_episode

Beat = Callable[[int, int], bool]
"""Called with (episodes done, episodes in all); False stops the export."""
BEAT_EVERY = 200


@dataclass(frozen=True)
class Cut:
    """Where an export stops: a global position and the instant it was recorded."""

    head: int
    transaction_time: datetime


def event_at(episodes: CareEpisodes, position: int) -> tuple[int, datetime] | None:
    """The first stored event at or after `position`: its position and recorded time."""
    found = episodes.recorder.select_notifications(start=position, limit=1)
    if not found:
        return None
    event = episodes.mapper.to_domain_event(found[0])
    assert isinstance(event, EpisodeEvent)
    return found[0].id, event.timestamp


def cut_now(episodes: CareEpisodes, now: datetime) -> Cut:
    """The head of the global order; transactionTime is the newest event's time."""
    head = episodes.recorder.max_notification_id() or 0
    newest = event_at(episodes, head) if head else None
    return Cut(head, newest[1] if newest else now)


def position_at(episodes: CareEpisodes, moment: datetime, head: int) -> int:
    """The last position up to `head` whose event was recorded at or before
    `moment` (0 if none): recorded times follow positions, bar writes racing by a
    few milliseconds, so a binary search over positions finds it."""
    low, high = 0, head  # invariant: position `low` is at or before the moment
    while low < high:
        middle = (low + high + 1) // 2
        found = event_at(episodes, middle)
        if found is None or found[0] > head:
            high = middle - 1
        elif found[1] <= moment:
            low = found[0]
        else:
            high = middle - 1
    return low


def changed_episodes(episodes: CareEpisodes, after: int, head: int) -> list[UUID]:
    """Episodes with an event after position `after`, up to `head`, in id order."""
    found: set[UUID] = set()
    start = after
    while start < head:
        page = episodes.recorder.select_notifications(
            start=start, limit=1000, stop=head, inclusive_of_start=False
        )
        if not page:
            break
        found.update(UUID(str(n.originator_id)) for n in page)
        start = page[-1].id
    return sorted(found)


def _records(
    episodes: CareEpisodes, job: ExportJob
) -> Iterator[Sequence[ChainedNotification]]:
    if job.since_position:
        for episode_id in changed_episodes(
            episodes, job.since_position, job.head_position
        ):
            yield episodes.records.select_episode_records(episode_id)
        return
    yield from episode_records(chained_recorder(episodes))


class NdjsonFiles:
    """One NDJSON file per resource type in a directory, opened when first needed."""

    def __init__(self, directory: Path, types: Sequence[str]) -> None:
        self.directory = directory
        self.types = set(types)
        self.counts: dict[str, int] = {}
        self._files: dict[str, IO[str]] = {}

    def write(self, resource: dict) -> None:
        kind = resource["resourceType"]
        if kind not in self.types:
            return
        file = self._files.get(kind)
        if file is None:
            file = self._files[kind] = open(  # noqa: SIM115 (closed in close())
                self.directory / f"{kind}.ndjson", "w", encoding="utf-8"
            )
        file.write(json.dumps(resource, separators=(",", ":"), ensure_ascii=False))
        file.write("\n")
        self.counts[kind] = self.counts.get(kind, 0) + 1

    def close(self) -> list[OutputFile]:
        for file in self._files.values():
            file.close()
        return [OutputFile(kind, n) for kind, n in sorted(self.counts.items())]


def export(
    episodes: CareEpisodes, job: ExportJob, directory: Path, total: int, beat: Beat
) -> tuple[list[OutputFile], int] | None:
    """Write the job's files into `directory` (replaced if there): the files and the
    episodes read; None if `beat` said stop (the partial files are removed)."""
    if directory.exists():
        shutil.rmtree(directory)
    private_dir(directory)
    files = NdjsonFiles(directory, job.types)
    disclosed = open(directory / "episodes.txt", "w", encoding="utf-8")  # noqa: SIM115
    done = 0
    try:
        for records in _records(episodes, job):
            kept = [r for r in records if r.id <= job.head_position]
            if kept and _write_episode(episodes, kept, job, files):
                disclosed.write(f"{kept[0].originator_id}\n")
            done += 1
            if done % BEAT_EVERY == 0 and not beat(done, max(total, done)):
                break
        else:
            return files.close(), done
    finally:
        disclosed.close()
        files.close()
    shutil.rmtree(directory, ignore_errors=True)
    return None


def _write_episode(
    episodes: CareEpisodes,
    records: Sequence[ChainedNotification],
    job: ExportJob,
    files: NdjsonFiles,
) -> bool:
    events = []
    try:
        for record in records:
            event = episodes.mapper.to_domain_event(record)
            assert isinstance(event, EpisodeEvent)
            events.append(event)
        reading = read_episode(events)
    except PatientDataErased:
        return False  # an erased patient's episodes are exported as nothing
    positions = {r.originator_version: r.id for r in records}
    wrote = False
    for mapped in map_episode(reading):
        # With _since, only what an event after it made or changed.
        if max(positions[v] for v in mapped.versions) > job.since_position:
            files.write(mapped.resource)
            wrote = True
    return wrote
