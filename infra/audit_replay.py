"""Audit replays from the store: the patient's events read, cut and folded
(projections.referral_audit.replay), the evidence packet, and its check.

A replay reads the episode's own events and those of the patient's other
episodes (the episode index finds them: R5 counts the patient's sessions), in
global order, and never touches the audit's tables: it is the same rules code
the projection runs, over the events as they stood at the cut.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain.application import CareEpisodes
from domain.errors import EpisodeNotFound
from domain.events import EpisodeEvent
from domain.reading import read_episode
from domain.records import ChainedNotification
from infra.chain import chain_link_of_digest
from infra.episode_index import EpisodeFilters, EpisodeIndex
from projections.referral_audit import ReferralAuditProjection
from projections.referral_audit.evidence import (
    GENESIS,
    RecordedEvent,
    evidence_document,
)
from projections.referral_audit.replay import (
    Cut,
    Replay,
    RuleSet,
    TimelineStep,
    audit_timeline,
    replay_audit,
)

if TYPE_CHECKING:
    from infra.bootstrap import Container

PAGE = 200


class AuditReplays:
    """Replays of the referral-loop audit over the stored events."""

    def __init__(
        self, episodes: CareEpisodes, index: EpisodeIndex, rules: RuleSet
    ) -> None:
        self.episodes = episodes
        self.index = index
        self.rules = rules
        """The deployment's rule set: what a replay judges by unless told otherwise."""

    @classmethod
    def of(cls, container: Container) -> AuditReplays:
        """Replays over this process's store, judged by the deployment's rules."""
        audit = container.projection(ReferralAuditProjection.name)
        assert isinstance(audit, ReferralAuditProjection)
        return cls(container.episodes, container.index, audit.rules)

    def patient_events(
        self, episode_id: UUID
    ) -> tuple[list[tuple[int, EpisodeEvent]], list[RecordedEvent]]:
        """The patient's events (every episode of theirs) in global order, and the
        episode's own stored events with their chain links; EpisodeNotFound for
        an unknown episode, PatientDataErased (410) for an erased one."""
        own = self.episodes.records.select_episode_records(episode_id)
        recorded = [self._recorded(record) for record in own]
        if not recorded:
            raise EpisodeNotFound(episode_id)
        reading = read_episode(r.event for r in recorded)
        events = [(r.position, r.event) for r in recorded]
        for other in self._patient_episodes(reading.patient_id):
            if other == episode_id:
                continue
            for record in self.episodes.records.select_episode_records(other):
                events.append((record.id, self._event(record)))
        events.sort(key=lambda pair: pair[0])
        return events, recorded

    def replay(
        self, episode_id: UUID, cut: Cut | None = None, rules: RuleSet | None = None
    ) -> Replay:
        """The episode's audit rows at `cut`, judged by `rules`."""
        events, _ = self.patient_events(episode_id)
        return replay_audit(events, episode_id, rules or self.rules, cut)

    def timeline(
        self, episode_id: UUID, cut: Cut | None = None, rules: RuleSet | None = None
    ) -> list[TimelineStep]:
        """When each of the episode's findings appeared, cleared or changed."""
        events, _ = self.patient_events(episode_id)
        return audit_timeline(events, episode_id, rules or self.rules, cut)

    def evidence(
        self,
        episode_id: UUID,
        now: datetime,
        *,
        cut: Cut | None = None,
        rules: RuleSet | None = None,
        with_positions: bool = True,
    ) -> dict[str, Any]:
        """The evidence packet of the episode at `cut`, judged at `now`."""
        cut = cut or Cut()
        events, recorded = self.patient_events(episode_id)
        replay = replay_audit(events, episode_id, rules or self.rules, cut)
        head = recorded[-1]
        return evidence_document(
            replay,
            recorded,
            now,
            cut=cut,
            store_head=(head.event.originator_version, head.link),
            with_positions=with_positions,
        )

    def _patient_episodes(self, patient_id: str) -> list[UUID]:
        found: list[UUID] = []
        after = None
        while True:
            page, after = self.index.search(
                EpisodeFilters(patient_id=patient_id), after, PAGE
            )
            found += [episode.episode_id for episode in page]
            if after is None:
                return found

    def _event(self, record: ChainedNotification) -> EpisodeEvent:
        event = self.episodes.mapper.to_domain_event(record)
        assert isinstance(event, EpisodeEvent)
        return event

    def _recorded(self, record: ChainedNotification) -> RecordedEvent:
        return RecordedEvent(
            position=record.id,
            event=self._event(record),
            topic=record.topic,
            state_sha256=hashlib.sha256(record.state).hexdigest(),
            link=record.chain_hash.hex(),
        )


def check_evidence(
    packet: Mapping[str, Any], heads: Mapping[str, Sequence[Any]] | None = None
) -> list[str]:
    """What does not hold in an evidence packet (empty: it verifies): every link
    recomputed from the packet, the head it states, and, with the `heads` a
    `care-episodes verify --save-heads` run kept, that the store's chain then
    passed through the same link."""
    problems = []
    episode_id = str(packet["episode_id"])
    previous = GENESIS
    expected_version = 1
    links: dict[int, str] = {}
    for item in packet["history"]:
        version, chain = int(item["version"]), item["chain"]
        if version != expected_version:
            problems.append(f"version {expected_version} is missing from the history")
        if chain["previous"] != previous:
            problems.append(f"v{version}: its previous link is not the link before it")
        link = chain_link_of_digest(
            bytes.fromhex(previous),
            episode_id,
            version,
            chain["topic"],
            bytes.fromhex(chain["state_sha256"]),
        ).hex()
        if link != chain["link"]:
            problems.append(f"v{version}: the link does not match what it covers")
        previous, expected_version = chain["link"], version + 1
        links[version] = chain["link"]
    head = packet["chain"]["head"]
    if links.get(int(head["version"])) != head["link"] or head["link"] != previous:
        problems.append("the chain head is not the last event's link")
    if heads is not None and episode_id in heads:
        saved_version, saved_link = int(heads[episode_id][0]), str(heads[episode_id][1])
        if saved_version in links and links[saved_version] != saved_link:
            problems.append(
                f"v{saved_version}: the link differs from the one verify saved"
            )
    return problems


def load_packet(path: Path) -> dict[str, Any]:
    """An evidence packet saved as JSON."""
    packet: dict[str, Any] = json.loads(path.read_text())
    return packet
