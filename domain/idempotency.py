"""Idempotency keys: which command a key was sent with, as a fingerprint."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from domain.commands import Command
from domain.errors import InvalidCommand
from domain.values import Actor, Idempotency

# Fields added to commands after keys were first stored: left out of the
# fingerprint while unset, so a retry sent across the upgrade still matches.
ADDED_FIELDS = frozenset({"age_band"})


def idempotency_for(
    command: Command, actor: Actor, key: str | None
) -> Idempotency | None:
    """The caller's key with the fingerprint of its command, or None without a key.

    The same command retried (same fields, time and caller) has the same fingerprint;
    anything else sent with the key has another, and is refused as a reused key.
    """
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > 255:
        msg = "an idempotency key must be 1 to 255 characters"
        raise InvalidCommand(msg, field="idempotency_key")
    fields = {
        name: value
        for name, value in command.payload().items()
        if not (name in ADDED_FIELDS and value is None)
    }
    body = {
        "command": command.name,
        "principal": actor.principal_id,
        "occurred_at": command.occurred_at,
        "fields": fields,
    }
    canonical = json.dumps(_canonical(body), sort_keys=True, separators=(",", ":"))
    return Idempotency(key, hashlib.sha256(canonical.encode()).hexdigest())


def _canonical(value: Any) -> Any:
    """A JSON-able form in which equal requests look the same."""
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _canonical(getattr(value, f.name))
            for f in dataclasses.fields(value)
        }
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value.normalize())
    if isinstance(value, UUID):
        return str(value)
    return value
