"""The evidence packet of one episode for a case review: its history, the audit's
findings with the events each rests on and the rule it applies, and the hash-chain
link of every event, so the packet can be checked against the store later.

The packet is plain JSON. Each history item carries what its link covers (topic
and the SHA-256 of the stored state) beside the link itself, so anyone can
recompute the chain from the packet alone and compare its head with the heads
`care-episodes verify --save-heads` keeps (`infra.audit_replay.check_evidence`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.events import EpisodeEvent
from domain.plain import plain
from projections.referral_audit.replay import Cut, Replay, Row
from projections.referral_audit.rule_texts import rule_text

FORMAT = 1
CHAIN_ALGORITHM = (
    "link = SHA-256(previous link | episode id (16 bytes) | version (8 bytes, "
    "big-endian) | length of topic (4 bytes, big-endian) | topic (UTF-8) | "
    "state_sha256); the first event's previous link is 32 zero bytes"
)
GENESIS = "00" * 32
# Findings name the events they rest on as "(v3)", or "(episode <id>, v3)" for
# another of the patient's episodes (R5).
_NAMED = re.compile(r"\((?:episode ([0-9a-f-]{36}), )?v(\d+)\)")


@dataclass(frozen=True)
class RecordedEvent:
    """One stored event of the episode with what its hash-chain link covers."""

    position: int
    event: EpisodeEvent
    topic: str
    state_sha256: str
    link: str
    """The event's chain link (hex)."""


def evidence_document(
    replay: Replay,
    recorded: Sequence[RecordedEvent],
    now: datetime,
    *,
    cut: Cut,
    store_head: tuple[int, str],
    with_positions: bool,
) -> dict[str, Any]:
    """The packet for the episode as `replay` judged it at `now`: `recorded` are
    the episode's stored events up to the replayed version; `store_head` is the
    newest (version, link) the store holds for it."""
    row = replay.audit_row(now)
    version = replay.rules.version
    shown = [r for r in recorded if r.event.originator_version <= replay.version]
    previous = GENESIS
    history = []
    for item in shown:
        event = item.event
        entry: dict[str, Any] = {
            "version": event.originator_version,
            "type": type(event).__name__,
            "occurred_at": event.occurred_at.isoformat(),
            "recorded_at": event.timestamp.isoformat(),
            "actor": plain(event.actor),
            "data": plain(event.data),
            "chain": {
                "previous": previous,
                "topic": item.topic,
                "state_sha256": item.state_sha256,
                "link": item.link,
            },
        }
        if with_positions:
            entry["position"] = item.position
        history.append(entry)
        previous = item.link
    findings = [_finding(f, replay, version) for f in row["findings"]]
    return {
        "kind": "referral-audit-evidence",
        "format": FORMAT,
        "episode_id": str(replay.episode_id),
        "patient_id": row["patient_id"],
        "referrer_id": row["referrer_id"],
        "generated_at": now.isoformat(),
        "judged_at": now.isoformat(),
        "version": replay.version,
        "as_of": cut.as_of.isoformat() if cut.as_of else None,
        "rules": {"version": version, "profile": replay.rules.profile},
        "pathway": row["pathway"],
        "red_flag_exempt": row["red_flag_exempt"],
        "surgery_referrals": plain(row["surgery_referrals"]),
        "metrics": plain(row["metrics"]),
        "findings": findings,
        "pending_findings": [_finding(f, replay, version) for f in replay.pending(now)],
        "history": history,
        "chain": {
            "algorithm": CHAIN_ALGORITHM,
            "genesis": GENESIS,
            "head": {"version": replay.version, "link": previous},
            "store_head": {"version": store_head[0], "link": store_head[1]},
        },
    }


def rests_on(finding: Row, episode_id: str) -> tuple[list[int], list[dict[str, Any]]]:
    """The versions of this episode a finding rests on (the event that triggered
    it, the surgery referral it concerns, the events its detail names), and the
    events of the patient's other episodes it names."""
    own = {finding["at_version"]}
    if finding.get("surgery_version"):
        own.add(finding["surgery_version"])
    elsewhere = []
    for other, named in _NAMED.findall(finding.get("detail") or ""):
        if other and other != episode_id:
            elsewhere.append({"episode_id": other, "version": int(named)})
        else:
            own.add(int(named))
    return sorted(own), elsewhere


def _finding(finding: Row, replay: Replay, version: int) -> dict[str, Any]:
    text = rule_text(finding["rule"], version)
    stored = next(
        (
            r
            for r in replay.findings
            if (r["rule"], r["at_version"]) == (finding["rule"], finding["at_version"])
            and r.get("detail") == finding["detail"]
        ),
        finding,
    )
    own, elsewhere = rests_on(stored, str(replay.episode_id))
    return {
        **plain(finding),
        "rests_on": own,
        "rests_on_other_episodes": elsewhere,
        "rule_text": text.text,
        "sources": list(text.sources),
        "code": text.code,
        "rules_version": version,
    }
