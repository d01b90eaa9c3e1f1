"""Bearer tokens: the tokens file, development tokens, and who holds each token."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from domain.values import Actor, PrincipalRole
from infra.files import check_private, private_dir
from infra.settings import ConfigurationError, Settings

logger = logging.getLogger("care.auth")


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: its id, its role and, for a physician, whose patients."""

    id: str
    role: PrincipalRole
    physician_id: str | None = None

    @property
    def actor(self) -> Actor:
        return Actor(self.id, self.role)


class TokenEntry(BaseModel):
    """One entry of the tokens file: the token itself or its SHA-256 (hex)."""

    model_config = ConfigDict(extra="forbid")

    token: str | None = Field(None, min_length=16)
    token_sha256: str | None = Field(None, pattern=r"^[0-9a-fA-F]{64}$")
    principal: str = Field(min_length=1, max_length=128)
    role: PrincipalRole
    physician_id: str | None = Field(None, min_length=1, max_length=128)

    @model_validator(mode="after")
    def _one_secret_and_scope(self) -> TokenEntry:
        if (self.token is None) == (self.token_sha256 is None):
            raise ValueError("give exactly one of token or token_sha256")
        if (self.role is PrincipalRole.PHYSICIAN) != (self.physician_id is not None):
            raise ValueError(
                "physician_id is required for, and only for, role physician"
            )
        return self

    def digest(self) -> bytes:
        if self.token is not None:
            return hashlib.sha256(self.token.encode()).digest()
        return bytes.fromhex(self.token_sha256 or "")


class TokenRegistry:
    """Bearer tokens known to this service, compared by SHA-256 in constant time."""

    def __init__(self, entries: Iterable[TokenEntry]) -> None:
        self._entries = [
            (entry.digest(), Principal(entry.principal, entry.role, entry.physician_id))
            for entry in entries
        ]

    @classmethod
    def from_file(cls, path: Path) -> TokenRegistry:
        """Load a tokens file, refusing it with a message that says what is wrong."""
        check_private(path, "tokens file")
        try:
            raw = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise ConfigurationError(
                f"cannot read tokens file {path}: {error}"
            ) from None
        if not isinstance(raw, list) or not raw:
            raise ConfigurationError(
                f"tokens file {path} must hold a non-empty JSON list"
            )
        try:
            return cls(TokenEntry.model_validate(item) for item in raw)
        except ValidationError as error:
            raise ConfigurationError(
                f"tokens file {path} is invalid: {error}"
            ) from None

    def authenticate(self, token: str) -> Principal | None:
        """The principal holding `token`, or None."""
        return self.holder_of(hashlib.sha256(token.encode()).digest())

    def holder_of(self, digest: bytes) -> Principal | None:
        """The principal whose token has this SHA-256 (a screen session keeps the
        digest, never the token), or None once the token left the file."""
        found = None
        for known, principal in self._entries:
            # No early exit: every entry is compared, so timing reveals nothing.
            if hmac.compare_digest(known, digest):
                found = principal
        return found


def load_token_registry(settings: Settings) -> TokenRegistry:
    """The tokens for this deployment; PostgreSQL deployments must bring their own."""
    if settings.auth_tokens_file is not None:
        return TokenRegistry.from_file(settings.auth_tokens_file)
    if settings.backend == "postgres":
        raise ConfigurationError(
            "refusing to start: a PostgreSQL deployment needs CARE_AUTH_TOKENS_FILE "
            "(a JSON list of {token or token_sha256, principal, role, physician_id}); "
            "development tokens are only generated for the embedded SQLite default"
        )
    return TokenRegistry.from_file(ensure_dev_tokens(settings.dev_tokens_file))


def ensure_dev_tokens(path: Path) -> Path:
    """Write random development tokens, one per role, unless the file exists."""
    if not path.exists():
        private_dir(path.parent)
        entries = [
            {
                "token": secrets.token_urlsafe(24),
                "principal": f"dev-{role.value}",
                "role": role.value,
            }
            for role in PrincipalRole
        ]
        for entry in entries:
            if entry["role"] == PrincipalRole.PHYSICIAN.value:
                # The referrer of the README's example episode.
                entry["physician_id"] = "dr-pc-1"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            json.dump(entries, file, indent=2)
    logger.warning("development tokens (do not use in production) are in %s", path)
    return path
