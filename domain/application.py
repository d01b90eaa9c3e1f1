"""CareEpisodes: the service layer. `handle` takes every command; queries read back."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4, uuid5

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    ProcessingEvent,
    Recording,
)
from eventsourcing.persistence import (
    IntegrityError,
    JSONTranscoder,
    PersistenceError,
)
from eventsourcing.utils import Environment, EnvType

from domain import commands as cmd
from domain.amendments import record_of
from domain.episode import CareEpisode
from domain.errors import (
    ConcurrencyConflict,
    EpisodeNotFound,
    InvalidCommand,
    VersionMismatch,
)
from domain.events import EpisodeEvent
from domain.idempotency import idempotency_for
from domain.reading import EpisodeReading, read_episode
from domain.records import ChainedNotification, EpisodeRecords
from domain.transcodings import register_domain_transcodings
from domain.values import Actor, Envelope, Idempotency

# Episode ids for idempotent opens are derived from (principal, key), so a retried
# open finds the episode its first attempt created instead of opening another.
IDEMPOTENT_OPEN_NAMESPACE = UUID("6f1d3c1e-2b7a-4e0b-9d55-8c4f1e0a7b21")
logger = logging.getLogger("care.episodes")
LOCK_STRIPES = 64
LOCK_WAIT_S = 0.25


@dataclass(frozen=True)
class CommandResult:
    """What a command answers: the episode, its new version and the event's position.

    `replayed` is True when an idempotency key matched an earlier command and
    nothing new was recorded.
    """

    episode_id: UUID
    version: int
    position: int
    replayed: bool = False


@dataclass(frozen=True)
class HistoryEntry:
    """One stored event of an episode, with the metadata an auditor needs."""

    version: int
    type: str
    position: int
    occurred_at: datetime
    recorded_at: datetime
    actor: Actor
    idempotency_key: str | None
    data: dict[str, Any]
    chain_hash: str


def utc_now() -> datetime:
    return datetime.now(UTC)


Decision = Callable[[CareEpisode, Envelope, Any], None]

# The one table from command to the aggregate method that decides it.
DECISIONS: dict[type[cmd.EpisodeCommand], Decision] = {
    cmd.ReceiveReferral: CareEpisode.receive_referral,
    cmd.ScreenRedFlags: CareEpisode.screen_red_flags,
    cmd.RecordDiagnostic: CareEpisode.record_diagnostic,
    cmd.RecordConservativeCare: CareEpisode.record_conservative_care,
    cmd.PlanTreatment: CareEpisode.plan_treatment,
    cmd.PerformIntervention: CareEpisode.perform_intervention,
    cmd.AdministerBiologic: CareEpisode.administer_biologic,
    cmd.RecordOutcome: CareEpisode.record_outcome,
    cmd.ReferToSurgery: CareEpisode.refer_to_surgery,
    cmd.SendConsultNote: CareEpisode.send_consult_note,
    cmd.AssignClinician: CareEpisode.assign_clinician,
    cmd.CloseEpisode: CareEpisode.close,
    cmd.EraseEpisode: CareEpisode.erase,
}


class CareEpisodes(Application[UUID]):
    """Records care episodes as event streams and reads them back, past included."""

    name = "CareEpisodes"
    max_write_attempts = 8

    def __init__(
        self,
        env: EnvType | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
        snapshot_every: int = 0,
    ) -> None:
        # Every `snapshot_every` events an episode's decision state is saved, so
        # loading a long episode replays at most that many events (0: never).
        self.snapshot_every = snapshot_every
        super().__init__(env)
        if not isinstance(self.recorder, EpisodeRecords):
            msg = (
                f"{type(self.recorder).__name__} cannot read an episode's records "
                "with their positions; build the application with infra.eventstore"
            )
            raise TypeError(msg)
        self.records: EpisodeRecords = self.recorder
        self.clock = clock
        self._locks = [threading.Lock() for _ in range(LOCK_STRIPES)]
        # An amendment is decided against the episode's record, which the
        # aggregate does not keep: this application folds it from the events.
        self.decisions: dict[type[cmd.EpisodeCommand], Decision] = {
            **DECISIONS,
            cmd.AmendEvent: self._decide_amendment,
        }

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        # Configuration comes only from the caller (infra's Settings), never
        # from whatever happens to be in os.environ.
        return Environment(name, {**type(self).env, **(env or {})})

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        register_domain_transcodings(transcoder)

    # -- commands ------------------------------------------------------------------

    def handle(
        self,
        command: cmd.Command,
        *,
        actor: Actor,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> CommandResult:
        """Record the event `command` asks for, as `actor`.

        `expected_version` (If-Match) applies it only at that version, else
        VersionMismatch. An `idempotency_key` already applied on the episode with
        the same command answers the original result and records nothing.
        """
        idempotency = idempotency_for(command, actor, idempotency_key)
        if isinstance(command, cmd.OpenEpisode):
            return self._open(command, actor, idempotency)
        if not isinstance(command, cmd.EpisodeCommand):
            raise TypeError(f"{type(command).__name__} is not a command of an episode")
        return self._execute(command, actor, expected_version, idempotency)

    # -- queries -------------------------------------------------------------------

    def get_episode(
        self, episode_id: UUID, *, version: int | None = None
    ) -> EpisodeReading:
        """The episode now, or as it stood at `version`."""
        if version is not None and version < 1:
            raise EpisodeNotFound(episode_id, version=version)
        records = self.records.select_episode_records(episode_id, lte=version)
        if not records or (version is not None and len(records) < version):
            raise EpisodeNotFound(episode_id, version=version)
        return read_episode(self._events(records))

    def get_episode_as_of(self, episode_id: UUID, as_of: datetime) -> EpisodeReading:
        """The episode as the store held it at the instant `as_of` (recorded time)."""
        if as_of.tzinfo is None or as_of.utcoffset() is None:
            raise InvalidCommand(
                f"as_of {as_of.isoformat()} has no UTC offset", field="as_of"
            )
        events = []
        for event in self._events(self._records(episode_id)):
            if event.timestamp > as_of:
                break
            events.append(event)
        if not events:
            raise EpisodeNotFound(episode_id, as_of=as_of)
        return read_episode(events)

    def referrer_ids(self, episode_id: UUID) -> set[str]:
        """Every physician or service that referred the patient into the episode."""
        return set(self._get(episode_id).referrer_ids)

    def is_referrer(self, episode_id: UUID, referrer_id: str) -> bool:
        """Whether `referrer_id` referred the patient into the episode (one indexed
        lookup: no event is read, so a missing episode costs the same)."""
        return self.records.select_referrer(episode_id, referrer_id)

    def _take_snapshots(self, processing_event: ProcessingEvent[UUID]) -> None:
        # A snapshot only saves replaying: the events are stored and acknowledged
        # by now, so failing to take one must not fail the command.
        every = self.snapshot_every
        if self.snapshots is None or not every:
            return
        for event in processing_event.events:
            if event.originator_version % every:
                continue
            try:
                self.take_snapshot(
                    event.originator_id, version=event.originator_version
                )
            except (PersistenceError, OSError) as error:
                logger.warning(
                    "no snapshot of %s taken: %s", event.originator_id, error
                )

    def record(self, *episodes: CareEpisode) -> list[Recording[UUID]]:
        """Store the episodes' new events and, in the same transaction, what the
        store indexes of them."""
        return self.save(*episodes, index=[e.index_entry() for e in episodes])

    def history(
        self, episode_id: UUID, *, after: int = 0, limit: int | None = None
    ) -> list[HistoryEntry]:
        """The episode's stored events after version `after` (at most `limit`), with
        version, position and metadata; each page costs the same however long the
        episode is."""
        records = self.records.select_episode_records(episode_id, gt=after, limit=limit)
        if not records and not self.records.select_head_version(episode_id):
            raise EpisodeNotFound(episode_id)
        entries = []
        for record in records:
            event = self.mapper.to_domain_event(record)
            assert isinstance(event, EpisodeEvent)
            entries.append(
                HistoryEntry(
                    version=record.originator_version,
                    type=type(event).__name__,
                    position=record.id,
                    occurred_at=event.occurred_at,
                    recorded_at=event.timestamp,
                    actor=event.actor,
                    idempotency_key=event.idempotency.key
                    if event.idempotency
                    else None,
                    data=event.data,
                    chain_hash=record.chain_hash.hex(),
                )
            )
        return entries

    def head_version(self, episode_id: UUID) -> int:
        """The episode's newest version."""
        version = self.records.select_head_version(episode_id)
        if version is None:
            raise EpisodeNotFound(episode_id)
        return version

    # -- how commands are applied ------------------------------------------------

    def _open(
        self, command: cmd.OpenEpisode, actor: Actor, idempotency: Idempotency | None
    ) -> CommandResult:
        if idempotency is None:
            episode_id = uuid4()
        else:
            episode_id = uuid5(
                IDEMPOTENT_OPEN_NAMESPACE, f"{actor.principal_id}\n{idempotency.key}"
            )
        envelope = Envelope(actor, self.clock(), idempotency)
        episode = CareEpisode.open(episode_id, envelope, command)
        try:
            recordings = self.record(episode)
        except IntegrityError:
            # Only an idempotent retry can collide: answer what the first attempt did.
            existing = self._get(episode_id)
            version = existing.replayed_version(idempotency)
            assert version is not None
            return self._replayed(episode_id, version)
        return CommandResult(
            episode_id, episode.version, recordings[-1].notification.id
        )

    def _execute(
        self,
        command: cmd.EpisodeCommand,
        actor: Actor,
        expected_version: int | None,
        idempotency: Idempotency | None,
    ) -> CommandResult:
        """Apply one command, retrying (bounded) when another writer got there first.

        With `expected_version` (If-Match) a lost race is the caller's to resolve:
        VersionMismatch. Without it the command is decided again on the new state,
        so a rule the new state breaks is reported, never overwritten.
        """
        decide = self.decisions[type(command)]
        episode_id = command.episode_id
        with self._lock(episode_id):
            for attempt in range(1, self.max_write_attempts + 1):
                episode = self._get(episode_id)
                replayed = episode.replayed_version(idempotency)
                if replayed is not None:
                    return self._replayed(episode_id, replayed)
                if expected_version is not None and episode.version != expected_version:
                    raise VersionMismatch(episode_id, expected_version, episode.version)
                decide(episode, Envelope(actor, self.clock(), idempotency), command)
                try:
                    recordings = self.record(episode)
                except IntegrityError:
                    if expected_version is not None:
                        current = self._get(episode_id).version
                        raise VersionMismatch(
                            episode_id, expected_version, current
                        ) from None
                    time.sleep(random.uniform(0, min(0.2, 0.005 * 2**attempt)))
                    continue
                return CommandResult(
                    episode_id, episode.version, recordings[-1].notification.id
                )
        raise ConcurrencyConflict(episode_id, self.max_write_attempts)

    def _decide_amendment(
        self, episode: CareEpisode, envelope: Envelope, command: cmd.AmendEvent
    ) -> None:
        records = self.records.select_episode_records(episode.id, lte=episode.version)
        episode.amend(envelope, command, record_of(self._events(records)))

    def _get(self, episode_id: UUID, version: int | None = None) -> CareEpisode:
        try:
            episode: object = self.repository.get(episode_id, version=version)
        except AggregateNotFoundError:
            raise EpisodeNotFound(episode_id, version=version) from None
        assert isinstance(episode, CareEpisode)
        return episode

    def _events(self, records: Iterable[ChainedNotification]) -> Iterator[EpisodeEvent]:
        for record in records:
            event = self.mapper.to_domain_event(record)
            assert isinstance(event, EpisodeEvent)
            yield event

    def _records(self, episode_id: UUID) -> Sequence[ChainedNotification]:
        records = self.records.select_episode_records(episode_id)
        if not records:
            raise EpisodeNotFound(episode_id)
        return records

    def _replayed(self, episode_id: UUID, version: int) -> CommandResult:
        position = self.records.select_position(episode_id, version)
        assert position is not None, "an applied idempotency key names a stored event"
        return CommandResult(episode_id, version, position, replayed=True)

    @contextmanager
    def _lock(self, episode_id: UUID) -> Iterator[None]:
        # Writers in this process take turns per episode, so they do not burn
        # optimistic-concurrency retries on each other; other processes still race.
        # The turn is only a courtesy: a writer waits for it a moment at most, then
        # goes ahead under optimistic concurrency alone, so writers stuck behind a
        # slow store (an outage) fail on their own clock, not one after another.
        lock = self._locks[episode_id.int % LOCK_STRIPES]
        held = lock.acquire(timeout=LOCK_WAIT_S)
        try:
            yield
        finally:
            if held:
                lock.release()
