"""What the application needs its store to answer beyond the library's interface."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable
from uuid import UUID

from eventsourcing.persistence import Notification


@dataclass(frozen=True)
class ChainedNotification(Notification):
    """A stored event with its global position and its hash-chain link."""

    chain_hash: bytes


@dataclass(frozen=True)
class IndexEntry:
    """What the store keeps beside an episode's events, written in the same
    transaction: enough to find episodes and to decide who may read them without
    loading any event (so the answer costs the same whatever the episode holds)."""

    episode_id: UUID
    patient_id: str
    opened_at: datetime
    status: str
    assignee_id: str | None
    referrer_ids: tuple[str, ...]
    version: int


@runtime_checkable
class EpisodeRecords(Protocol):
    """An episode's stored records with their positions (infra's recorders provide it)."""

    def select_episode_records(
        self,
        episode_id: UUID,
        *,
        gt: int | None = None,
        lte: int | None = None,
        limit: int | None = None,
    ) -> Sequence[ChainedNotification]:
        """An episode's stored events in version order, with their positions."""

    def select_head_version(self, episode_id: UUID) -> int | None:
        """The episode's newest version, or None if it has no events."""

    def select_position(self, episode_id: UUID, version: int) -> int | None:
        """The global position of one episode event, or None if absent."""

    def select_referrer(self, episode_id: UUID, referrer_id: str) -> bool:
        """Whether `referrer_id` referred the patient into the episode (an indexed
        lookup: the same cost for a missing episode as for any other)."""
