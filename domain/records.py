"""What the application needs its store to answer beyond the library's interface."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable
from uuid import UUID

from eventsourcing.persistence import Notification


@dataclass(frozen=True)
class ChainedNotification(Notification):
    """A stored event with its global position and its hash-chain link."""

    chain_hash: bytes


@runtime_checkable
class EpisodeRecords(Protocol):
    """An episode's stored records with their positions (infra's recorders provide it)."""

    def select_episode_records(
        self, episode_id: UUID, *, lte: int | None = None
    ) -> Sequence[ChainedNotification]:
        """Every stored event of one episode in version order, with its position."""

    def select_position(self, episode_id: UUID, version: int) -> int | None:
        """The global position of one episode event, or None if absent."""
