"""Domain errors: sentences a clinician or a calling service can read."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class EpisodeNotFound(DomainError):
    """No episode with this id (or none at the requested version or instant)."""

    def __init__(
        self,
        episode_id: UUID,
        *,
        version: int | None = None,
        as_of: datetime | None = None,
    ) -> None:
        if version is not None:
            message = f"episode {episode_id} has no version {version}"
        elif as_of is not None:
            message = f"episode {episode_id} had not been recorded as of {as_of}"
        else:
            message = f"episode {episode_id} not found"
        super().__init__(message)
        self.episode_id = episode_id


class RuleViolation(DomainError):
    """A command broke a rule of the episode; nothing was recorded."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidCommand(RuleViolation):
    """A command is wrong on its own (a value out of range, a missing lot number),
    whatever state the episode is in; nothing was recorded."""


class EpisodeClosedError(RuleViolation):
    """The episode is closed: nothing may be recorded after EpisodeClosed."""

    def __init__(self, episode_id: UUID) -> None:
        super().__init__(
            f"episode {episode_id} is closed: no further events may be recorded"
        )


class IdempotencyKeyReused(DomainError):
    """An idempotency key already applied on this episode came with another command."""

    def __init__(self, key: str) -> None:
        super().__init__(
            f"idempotency key {key!r} was already used on this episode "
            "for a different request"
        )
        self.key = key


class VersionMismatch(DomainError):
    """The caller expected another version of the episode (a stale If-Match)."""

    def __init__(self, episode_id: UUID, expected: int, actual: int) -> None:
        super().__init__(
            f"episode {episode_id} is at version {actual}, not the expected {expected}"
        )
        self.expected = expected
        self.actual = actual


class ConcurrencyConflict(DomainError):
    """Other writers kept changing the episode; the command was not applied."""

    def __init__(self, episode_id: UUID, attempts: int) -> None:
        super().__init__(
            f"episode {episode_id} kept changing under {attempts} attempts to write; "
            "nothing was recorded, retry the command"
        )
