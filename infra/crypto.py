"""The cryptography of the record: sealed payloads, data keys, the master key.

A sealed payload is `02 | envelope length (2 bytes) | envelope | key id (16 bytes)
| nonce (12) | AES-256-GCM ciphertext and tag`. The envelope is plain JSON holding
only the event's times (`recorded_at`, the store's timestamp, and `occurred_at`,
the clinic's), so they stay readable once the key is erased; it holds no clinical
content. The event's episode, version and topic, and the envelope itself, are the
associated data, so a sealed payload moved to another event, or an envelope
edited, does not open (and the hash chain covers all of it). The key id names the
patient's data key, so a payload says which key opens it. The first format (`01`,
without an envelope) still opens. Anything else is a payload stored in plain
(events recorded with encryption off: the JSON transcoder's output always
starts with `{`). Data keys are wrapped by the master key with AES key wrap
(RFC 3394).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import (
    InvalidUnwrap,
    aes_key_unwrap,
    aes_key_wrap,
)

SEALED = b"\x02"
SEALED_V1 = b"\x01"
KEY_BYTES = 32
NONCE_BYTES = 12
HEADER_BYTES = 1 + 16 + NONCE_BYTES
"""The header of the first format (no envelope)."""


class SealError(Exception):
    """A sealed payload or wrapped key that does not open with the key given."""


@dataclass(frozen=True)
class MasterKey:
    """The key that wraps every data key; its id tells which master wrapped a key."""

    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_BYTES:
            msg = f"a master key is {KEY_BYTES} bytes, not {len(self.secret)}"
            raise ValueError(msg)

    @classmethod
    def from_text(cls, text: str) -> MasterKey:
        """A master key from its base64 text (32 bytes once decoded)."""
        try:
            secret = base64.b64decode(text.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("a master key is base64 text") from None
        return cls(secret)

    @classmethod
    def generate(cls) -> MasterKey:
        """A fresh random master key."""
        return cls(AESGCM.generate_key(bit_length=KEY_BYTES * 8))

    @property
    def text(self) -> str:
        """The key as base64 text (what CARE_MASTER_KEY holds)."""
        return base64.b64encode(self.secret).decode()

    @property
    def id(self) -> str:
        """A fingerprint naming this key without revealing it."""
        return hashlib.sha256(b"care-episodes master key\n" + self.secret).hexdigest()[
            :16
        ]

    def wrap(self, data_key: bytes) -> bytes:
        """`data_key` wrapped (RFC 3394) for storage."""
        return aes_key_wrap(self.secret, data_key)

    def unwrap(self, wrapped: bytes) -> bytes:
        """A wrapped data key opened; SealError if another master wrapped it."""
        try:
            return aes_key_unwrap(self.secret, wrapped)
        except InvalidUnwrap:
            raise SealError("the data key was not wrapped by this master key") from None


def new_data_key() -> bytes:
    """A fresh random AES-256 data key."""
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


def associated_data(originator_id: UUID, version: int, topic: str) -> bytes:
    """What a sealed payload is bound to: its episode, version and event type."""
    return originator_id.bytes + version.to_bytes(8, "big") + topic.encode()


def is_sealed(state: bytes) -> bool:
    """Whether a stored payload is sealed (else it is stored in plain)."""
    return state[:1] in (SEALED, SEALED_V1)


def _parts(state: bytes) -> tuple[bytes, int]:
    """A sealed payload's envelope bytes and where its key id starts."""
    if state[:1] == SEALED_V1 and len(state) >= HEADER_BYTES:
        return b"", 1
    if state[:1] == SEALED and len(state) >= 3:
        start = 3 + int.from_bytes(state[1:3], "big")
        if len(state) >= start + 16 + NONCE_BYTES:
            return state[3:start], start
    raise SealError("the payload is not sealed")


def key_id_of(state: bytes) -> UUID:
    """The id of the data key that sealed `state`."""
    _, start = _parts(state)
    return UUID(bytes=state[start : start + 16])


def envelope_of(state: bytes) -> dict[str, Any]:
    """The plain envelope of a sealed payload: its times, readable without the key
    (empty for the first format, which had none)."""
    envelope, _ = _parts(state)
    return json.loads(envelope) if envelope else {}


def seal(
    key_id: UUID,
    aead: AESGCM,
    plaintext: bytes,
    aad: bytes,
    envelope: dict[str, Any] | None = None,
) -> bytes:
    """`plaintext` sealed under the data key `key_id` (whose cipher is `aead`), with
    `envelope` (times only, never clinical content) readable beside it."""
    shown = json.dumps(envelope or {}, separators=(",", ":")).encode()
    nonce = os.urandom(NONCE_BYTES)
    return b"".join(
        (
            SEALED,
            len(shown).to_bytes(2, "big"),
            shown,
            key_id.bytes,
            nonce,
            aead.encrypt(nonce, plaintext, aad + shown),
        )
    )


def unseal(aead: AESGCM, state: bytes, aad: bytes) -> bytes:
    """The plaintext of a sealed payload; SealError if it does not open."""
    envelope, start = _parts(state)
    nonce = state[start + 16 : start + 16 + NONCE_BYTES]
    try:
        return aead.decrypt(nonce, state[start + 16 + NONCE_BYTES :], aad + envelope)
    except InvalidTag:
        raise SealError("the payload does not open with its data key") from None
