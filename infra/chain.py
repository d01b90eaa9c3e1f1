"""The per-episode hash chain that makes the stored history tamper-evident.

Each stored event's link is SHA-256 over the previous link of its episode and the
event exactly as stored (episode id, version, topic, state bytes). Changing,
removing or reordering a stored event breaks every link after it.
"""

from __future__ import annotations

import hashlib
from uuid import UUID

GENESIS = bytes(32)


def chain_link(
    previous: bytes, originator_id: UUID | str, version: int, topic: str, state: bytes
) -> bytes:
    """The link of one stored event, given the link of the event before it."""
    return chain_link_of_digest(
        previous, originator_id, version, topic, hashlib.sha256(state).digest()
    )


def chain_link_of_digest(
    previous: bytes,
    originator_id: UUID | str,
    version: int,
    topic: str,
    state_sha256: bytes,
) -> bytes:
    """The same link from the SHA-256 of the stored state (what an evidence packet
    carries instead of the state itself)."""
    topic_bytes = topic.encode()
    digest = hashlib.sha256()
    digest.update(previous)
    digest.update(UUID(str(originator_id)).bytes)
    digest.update(version.to_bytes(8, "big"))
    digest.update(len(topic_bytes).to_bytes(4, "big"))
    digest.update(topic_bytes)
    digest.update(state_sha256)
    return digest.digest()
