"""Domain errors: sentences a clinician or a calling service can read."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

# What kind of refusal an error is; the API answers each kind with one status.
INVALID = "invalid"
"""The command is wrong on its own, whatever state the episode is in (422)."""
REFUSED = "refused"
"""The episode's state refuses the command: closed, before it opened (409)."""
NOT_FOUND = "not_found"
"""No such episode, version or instant (404)."""
STALE = "stale"
"""The caller expected another version of the episode (412)."""


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""

    kind: ClassVar[str] = REFUSED

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class EpisodeNotFound(DomainError):
    """No episode with this id (or none at the requested version or instant)."""

    kind = NOT_FOUND

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
    """The episode's state refuses a command (a rule of the episode broken);
    nothing was recorded."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidCommand(RuleViolation):
    """A command is wrong on its own (a value out of range, a missing lot number),
    whatever state the episode is in; nothing was recorded."""

    kind = INVALID


class EpisodeClosedError(RuleViolation):
    """The episode is closed: nothing may be recorded after EpisodeClosed."""

    def __init__(self, episode_id: UUID) -> None:
        super().__init__(
            f"episode {episode_id} is closed: no further events may be recorded"
        )


class IdempotencyKeyReused(DomainError):
    """An idempotency key already applied on this episode came with another command."""

    # The same key with another body is a mistake of the request (DESIGN §4: 422).
    kind = INVALID

    def __init__(self, key: str) -> None:
        super().__init__(
            f"idempotency key {key!r} was already used on this episode "
            "for a different request"
        )
        self.key = key


class VersionMismatch(DomainError):
    """The caller expected another version of the episode (a stale If-Match)."""

    kind = STALE

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


GONE = "gone"
"""The episode's patient data was erased: it exists, and can no longer be read (410)."""


class PatientDataErased(DomainError):
    """The patient's data key was erased: the episode's events stay, unreadable."""

    kind = GONE

    def __init__(self, episode_id: UUID) -> None:
        super().__init__(
            f"episode {episode_id} belonged to a patient whose data was erased: "
            "its events are kept but can no longer be read"
        )
        self.episode_id = episode_id
