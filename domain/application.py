"""CareEpisodes: the service layer, one method per command and per query."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4, uuid5

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    project_aggregate,
)
from eventsourcing.persistence import (
    IntegrityError,
    JSONTranscoder,
)
from eventsourcing.utils import Environment, EnvType

from domain.episode import CareEpisode
from domain.errors import (
    ConcurrencyConflict,
    EpisodeNotFound,
    RuleViolation,
    VersionMismatch,
)
from domain.events import EpisodeEvent
from domain.idempotency import idempotency_for
from domain.records import ChainedNotification, EpisodeRecords
from domain.transcodings import register_domain_transcodings
from domain.values import Actor, Envelope

# Episode ids for idempotent opens are derived from (principal, key), so a retried
# open finds the episode its first attempt created instead of opening another.
IDEMPOTENT_OPEN_NAMESPACE = UUID("6f1d3c1e-2b7a-4e0b-9d55-8c4f1e0a7b21")
LOCK_STRIPES = 64


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


class CareEpisodes(Application[UUID]):
    """Records care episodes as event streams and reads them back, past included."""

    name = "CareEpisodes"
    max_write_attempts = 8

    def __init__(
        self,
        env: EnvType | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
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

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        # Configuration comes only from the caller (infra's Settings), never
        # from whatever happens to be in os.environ.
        return Environment(name, {**type(self).env, **(env or {})})

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        register_domain_transcodings(transcoder)

    # -- commands ------------------------------------------------------------------

    def open_episode(
        self,
        *,
        actor: Actor,
        occurred_at: datetime,
        idempotency_key: str | None = None,
        **referral: Any,
    ) -> CommandResult:
        """Open an episode with its first referral (ReferralReceived)."""
        idempotency = idempotency_for(
            "open_episode", actor, occurred_at, idempotency_key, referral
        )
        if idempotency is None:
            episode_id = uuid4()
        else:
            episode_id = uuid5(
                IDEMPOTENT_OPEN_NAMESPACE, f"{actor.principal_id}\n{idempotency.key}"
            )
        envelope = Envelope(actor, occurred_at, self.clock(), idempotency)
        episode = CareEpisode.open(episode_id, envelope, **referral)
        try:
            recordings = self.save(episode)
        except IntegrityError:
            # Only an idempotent retry can collide: answer what the first attempt did.
            existing = self._get(episode_id)
            version = existing.replayed_version(idempotency)
            assert version is not None
            return self._replayed(episode_id, version)
        return CommandResult(
            episode_id, episode.version, recordings[-1].notification.id
        )

    def receive_referral(self, episode_id: UUID, **command: Any) -> CommandResult:
        """Record that a further service received the patient."""
        return self._execute("receive_referral", episode_id, **command)

    def screen_red_flags(self, episode_id: UUID, **command: Any) -> CommandResult:
        """Record a red-flag screen (RedFlagsScreened)."""
        return self._execute("screen_red_flags", episode_id, **command)

    def record_diagnostic(self, episode_id: UUID, **command: Any) -> CommandResult:
        """Record a completed diagnostic (DiagnosticCompleted)."""
        return self._execute("record_diagnostic", episode_id, **command)

    def record_conservative_care(
        self, episode_id: UUID, **command: Any
    ) -> CommandResult:
        """Record a course of conservative care (ConservativeCareRecorded)."""
        return self._execute("record_conservative_care", episode_id, **command)

    def plan_treatment(self, episode_id: UUID, **command: Any) -> CommandResult:
        """Record a treatment plan (TreatmentPlanned)."""
        return self._execute("plan_treatment", episode_id, **command)

    def perform_intervention(self, episode_id: UUID, **command: Any) -> CommandResult:
        """Record a therapeutic procedure (InterventionPerformed)."""
        return self._execute("perform_intervention", episode_id, **command)

    def administer_biologic(self, episode_id: UUID, **command: Any) -> CommandResult:
        """Record a regenerative biologic (BiologicAdministered)."""
        return self._execute("administer_biologic", episode_id, **command)

    def record_outcome(self, episode_id: UUID, **command: Any) -> CommandResult:
        """Record a patient-reported outcome (OutcomeRecorded)."""
        return self._execute("record_outcome", episode_id, **command)

    def refer_to_surgery(self, episode_id: UUID, **command: Any) -> CommandResult:
        """Refer the patient to a spine surgeon (SurgeryReferred)."""
        return self._execute("refer_to_surgery", episode_id, **command)

    def send_consult_note(self, episode_id: UUID, **command: Any) -> CommandResult:
        """Record a consult note sent to the referring physician (ConsultNoteSent)."""
        return self._execute("send_consult_note", episode_id, **command)

    def assign_clinician(self, episode_id: UUID, **command: Any) -> CommandResult:
        """Give the episode's work to a clinician (ClinicianAssigned)."""
        return self._execute("assign_clinician", episode_id, **command)

    def close_episode(self, episode_id: UUID, **command: Any) -> CommandResult:
        """Close the episode (EpisodeClosed)."""
        return self._execute("close", episode_id, **command)

    # -- queries -------------------------------------------------------------------

    def get_episode(
        self, episode_id: UUID, *, version: int | None = None
    ) -> CareEpisode:
        """The episode now, or as it stood at `version`."""
        if version is not None and version < 1:
            raise EpisodeNotFound(episode_id, version=version)
        episode = self._get(episode_id, version=version)
        if version is not None and episode.version != version:
            raise EpisodeNotFound(episode_id, version=version)
        return episode

    def get_episode_as_of(self, episode_id: UUID, as_of: datetime) -> CareEpisode:
        """The episode as the store held it at the instant `as_of` (recorded time)."""
        if as_of.tzinfo is None or as_of.utcoffset() is None:
            raise RuleViolation(
                f"as_of {as_of.isoformat()} has no UTC offset", field="as_of"
            )
        events = []
        for record in self._records(episode_id):
            event = self.mapper.to_domain_event(record)
            if event.timestamp > as_of:
                break
            events.append(event)
        if not events:
            raise EpisodeNotFound(episode_id, as_of=as_of)
        return project_aggregate(None, events)

    def history(self, episode_id: UUID) -> list[HistoryEntry]:
        """Every stored event of the episode with its version, position and metadata."""
        entries = []
        for record in self._records(episode_id):
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

    # -- how commands are applied ------------------------------------------------

    def _execute(
        self,
        command: str,
        episode_id: UUID,
        *,
        actor: Actor,
        occurred_at: datetime,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> CommandResult:
        """Apply one command, retrying (bounded) when another writer got there first.

        With `expected_version` (If-Match) a lost race is the caller's to resolve:
        VersionMismatch. Without it the command is decided again on the new state,
        so a rule the new state breaks is reported, never overwritten.
        """
        idempotency = idempotency_for(
            command, actor, occurred_at, idempotency_key, fields
        )
        with self._lock(episode_id):
            for attempt in range(1, self.max_write_attempts + 1):
                episode = self._get(episode_id)
                replayed = episode.replayed_version(idempotency)
                if replayed is not None:
                    return self._replayed(episode_id, replayed)
                if expected_version is not None and episode.version != expected_version:
                    raise VersionMismatch(episode_id, expected_version, episode.version)
                envelope = Envelope(actor, occurred_at, self.clock(), idempotency)
                getattr(episode, command)(envelope, **fields)
                try:
                    recordings = self.save(episode)
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

    def _get(self, episode_id: UUID, version: int | None = None) -> CareEpisode:
        try:
            episode = self.repository.get(episode_id, version=version)
        except AggregateNotFoundError:
            raise EpisodeNotFound(episode_id, version=version) from None
        assert isinstance(episode, CareEpisode)
        return episode

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
        with self._locks[episode_id.int % LOCK_STRIPES]:
            yield
