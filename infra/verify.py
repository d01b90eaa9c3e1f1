"""Verify the stored history: recompute every episode's hash chain, report any event
changed, removed or reordered, and digest the chain heads for an auditor to keep.

The chain alone cannot show that an episode's newest events (or a whole episode)
were deleted: a shorter chain is still a valid chain. For that, keep the heads a
previous run saved (`--save-heads`) and check against them (`--heads`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

from domain.application import CareEpisodes
from domain.records import ChainedNotification
from infra.access_log import AccessLog, ChainBreak
from infra.chain import GENESIS, chain_link
from infra.eventstore import chained_recorder

BATCH = 1000


@dataclass(frozen=True)
class ChainProblem:
    """One place where the stored history is not what was recorded."""

    episode_id: UUID
    version: int
    kind: str  # changed | removed | reordered | unchained
    detail: str


@dataclass
class VerifyReport:
    """What verification found, and the heads it saw."""

    events: int = 0
    problems: list[ChainProblem] = field(default_factory=list)
    heads: dict[str, tuple[int, str]] = field(default_factory=dict)
    log_entries: int = 0
    log_problems: list[ChainBreak] = field(default_factory=list)
    log_head: tuple[int, str] | None = None
    """The access log's newest entry (id, link), if the log was verified."""

    @property
    def ok(self) -> bool:
        return not self.problems and not self.log_problems

    @property
    def digest(self) -> str:
        """SHA-256 over every episode's head (id, version, link), in id order."""
        lines = "".join(
            f"{episode}:{version}:{link}\n"
            for episode, (version, link) in sorted(self.heads.items())
        )
        return hashlib.sha256(lines.encode()).hexdigest()


def verify_store(
    episodes: CareEpisodes,
    heads: dict[str, tuple[int, str]] | None = None,
    *,
    log: AccessLog | None = None,
    log_head: tuple[int, str] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """Recompute every chain; with `heads` from an earlier run, also find truncations.

    With `log`, the access log's chain too (and, with the `log_head` an earlier run
    saved, entries removed from its end). `on_progress` hears the number of
    events verified so far, now and then.
    """
    report = VerifyReport()
    if log is not None:
        report.log_entries, report.log_problems, report.log_head = log.verify()
        if log_head is not None:
            report.log_problems += _check_log_head(log_head, log)
    reported = 0
    for episode_id, records in _episodes(episodes):
        report.events += len(records)
        if on_progress is not None and report.events - reported >= BATCH:
            reported = report.events
            on_progress(report.events)
        report.problems += _check_episode(episode_id, records)
        last = records[-1]
        report.heads[str(episode_id)] = (last.originator_version, last.chain_hash.hex())
    if heads is not None:
        report.problems += _check_heads(report.heads, heads, episodes)
    return report


def save_heads(report: VerifyReport, path: Path) -> None:
    """Write the heads of a verified store, for a later `verify --heads`."""
    data = {
        "digest": report.digest,
        "heads": {k: list(v) for k, v in sorted(report.heads.items())},
        "access_log": list(report.log_head) if report.log_head else None,
    }
    path.write_text(json.dumps(data, indent=1))


def load_log_head(path: Path) -> tuple[int, str] | None:
    """The access log's head saved by an earlier run, if it saved one."""
    saved = json.loads(path.read_text()).get("access_log")
    return None if saved is None else (int(saved[0]), str(saved[1]))


def _check_log_head(saved: tuple[int, str], log: AccessLog) -> list[ChainBreak]:
    """The entry an earlier run saw last must still be there, unchanged."""
    entry_id, link = saved
    now = log.head()
    if now is None or now[0] < entry_id:
        newest = now[0] if now else 0
        return [
            ChainBreak(
                entry_id,
                f"entries {newest + 1}-{entry_id} were in the access log at the last "
                "verification and are gone",
            )
        ]
    with log.db.reading() as cur:
        row = cur.execute(
            "SELECT chain FROM access_log WHERE id = ?", (entry_id,)
        ).fetchone()
    if row is None or row["chain"] is None or bytes(row["chain"]).hex() != link:
        return [ChainBreak(entry_id, "the access log up to this entry differs")]
    return []


def load_heads(path: Path) -> dict[str, tuple[int, str]]:
    """Heads saved by an earlier run."""
    data = json.loads(path.read_text())
    return {
        episode: (int(version), str(link))
        for episode, (version, link) in data["heads"].items()
    }


def _episodes(
    episodes: CareEpisodes,
) -> Iterator[tuple[UUID, list[ChainedNotification]]]:
    """Every episode's stored records, in version order, a batch of rows at a time."""
    recorder = chained_recorder(episodes)
    after: tuple[UUID, int] | None = None
    current: list[ChainedNotification] = []
    while True:
        batch = recorder.select_chain_records(after, BATCH)
        for record in batch:
            if current and current[0].originator_id != record.originator_id:
                yield UUID(str(current[0].originator_id)), current
                current = []
            current.append(record)
        if len(batch) < BATCH:
            break
        after = (UUID(str(batch[-1].originator_id)), batch[-1].originator_version)
    if current:
        yield UUID(str(current[0].originator_id)), current


def _link(previous: bytes, record: ChainedNotification, version: int) -> bytes:
    return chain_link(
        previous, record.originator_id, version, record.topic, record.state
    )


def _check_episode(
    episode_id: UUID, records: list[ChainedNotification]
) -> list[ChainProblem]:
    problems = []
    expected_version, previous = 1, GENESIS
    for record in records:
        version = record.originator_version
        linked = version == expected_version
        if not linked:
            # The predecessor is gone, so this event's own link cannot be checked.
            missing = (
                str(expected_version)
                if version == expected_version + 1
                else f"{expected_version}-{version - 1}"
            )
            problems.append(
                ChainProblem(
                    episode_id,
                    expected_version,
                    "removed",
                    f"version(s) {missing} are missing",
                )
            )
        if not record.chain_hash:
            problems.append(
                ChainProblem(
                    episode_id, version, "unchained", "the event has no chain link"
                )
            )
        elif linked and _link(previous, record, version) != record.chain_hash:
            links = [GENESIS, *(r.chain_hash for r in records)]
            # An event whose own link still holds after some stored link is intact
            # where it stands: only its predecessor moved, and that is reported.
            if not any(_link(p, record, version) == record.chain_hash for p in links):
                problems.append(_mismatch(episode_id, record, records))
        # Carry on from what is stored, so one tampered event is reported once.
        previous = record.chain_hash or previous
        expected_version = version + 1
    return problems


def _mismatch(
    episode_id: UUID, record: ChainedNotification, records: list[ChainedNotification]
) -> ChainProblem:
    """A link that does not match: an event moved from another version, or changed."""
    version = record.originator_version
    links = {r.originator_version: r.chain_hash for r in records}
    predecessors = [GENESIS, *links.values()]
    for original in range(1, max(links) + 2):
        if original == version:
            continue
        targets = {record.chain_hash, links.get(original, b"")}
        if any(_link(p, record, original) in targets for p in predecessors):
            return ChainProblem(
                episode_id,
                version,
                "reordered",
                f"the event stored at version {version} was recorded as version {original}",
            )
    return ChainProblem(
        episode_id,
        version,
        "changed",
        f"the event at version {version} is not the one recorded",
    )


def _check_heads(
    now: dict[str, tuple[int, str]],
    before: dict[str, tuple[int, str]],
    episodes: CareEpisodes,
) -> list[ChainProblem]:
    """Each head an earlier run saw must still be in the store, unchanged."""
    problems = []
    for episode, (version, link) in sorted(before.items()):
        episode_id = UUID(episode)
        current_version = now.get(episode, (0, ""))[0]
        if current_version < version:
            problems.append(
                ChainProblem(
                    episode_id,
                    current_version + 1,
                    "removed",
                    f"versions {current_version + 1}-{version} were stored at the last verification and are gone",
                )
            )
            continue
        records = episodes.records.select_episode_records(episode_id, lte=version)
        if records[-1].chain_hash.hex() != link:
            problems.append(
                ChainProblem(
                    episode_id,
                    version,
                    "changed",
                    f"the chain up to version {version} differs from the last verification",
                )
            )
    return problems
