"""The audit's view tables (projection version 3, rule set v2) and their rows.

Names and the columns v1 had are kept (same names, same types), so a reader can
still read a v1 generation while v3 builds beside it; v3 adds columns
(`surgery_referrals`, `scope`, `surgery_version`) and the summary's tables
(`totals.COUNTERS`, `DUES`, `HISTOGRAM`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from projections.base import Column, Table
from projections.referral_audit.findings import Finding

EPISODE_SCOPE = "episode"
PATIENT_SCOPE = "patient"

EPISODES = Table(
    name="episodes",
    columns=(
        Column("episode_id", "text", nullable=False),
        Column("patient_id", "text", nullable=False),
        Column("referrer_id", "text", nullable=False),
        Column("referrer_role", "text", nullable=False),
        Column("opened_at", "timestamp", nullable=False),
        Column("status", "text", nullable=False),
        Column("pathway", "json", nullable=False),
        Column("surgeon_ids", "json", nullable=False),
        Column("surgery_referrals", "json", nullable=False),
        Column("metrics", "json", nullable=False),
        Column("rules_version", "integer", nullable=False),
        Column("rules_profile", "text", nullable=False),
        Column("red_flag_exempt", "boolean", nullable=False),
        Column("version", "integer", nullable=False),
        Column("position", "integer", nullable=False),
    ),
    key=("episode_id",),
    # Keyset paging walks (opened_at, episode_id).
    indexes=(("opened_at", "episode_id"),),
)

FINDINGS = Table(
    name="findings",
    columns=(
        Column("episode_id", "text", nullable=False),
        Column("rule", "text", nullable=False),
        Column("at_version", "integer", nullable=False),
        Column("subject", "text", nullable=False),
        # "episode": judged on the episode; "patient": on the patient's episodes
        # (R5), written by the patient's key, so neither wipes the other's rows.
        Column("scope", "text", nullable=False),
        Column("name", "text", nullable=False),
        Column("severity", "text", nullable=False),
        Column("detail", "text", nullable=False),
        Column("occurred_at", "timestamp", nullable=False),
        Column("fires_at", "timestamp"),
        Column("surgeon_id", "text"),
        Column("surgery_version", "integer"),
        # The referrer the finding is charged to (DOMAIN v2 attribution).
        Column("referrer_id", "text", nullable=False),
        Column("opened_at", "timestamp", nullable=False),
    ),
    key=("episode_id", "rule", "at_version", "subject"),
    indexes=(("rule", "episode_id"), ("severity", "episode_id"), ("fires_at",)),
)

# Every physician or service that referred the patient into the episode: a physician
# reads the audit rows of the episodes it referred, and the referrer filter.
REFERRERS = Table(
    name="referrers",
    columns=(
        Column("episode_id", "text", nullable=False),
        Column("referrer_id", "text", nullable=False),
    ),
    key=("episode_id", "referrer_id"),
    indexes=(("referrer_id", "episode_id"),),
)

# Every surgeon an episode was referred to: the surgeon filter joins on it.
SURGEONS = Table(
    name="surgeons",
    columns=(
        Column("episode_id", "text", nullable=False),
        Column("surgeon_id", "text", nullable=False),
    ),
    key=("episode_id", "surgeon_id"),
    indexes=(("surgeon_id", "episode_id"),),
)


def finding_row(
    episode: Mapping[str, Any], finding: Finding, scope: str
) -> dict[str, Any]:
    """One finding's row; `episode` gives episode_id, referrer_id (the opening
    referrer, charged unless the finding names another) and opened_at."""
    opened_at: datetime = episode["opened_at"]
    return {
        "episode_id": episode["episode_id"],
        "rule": finding.rule,
        "at_version": finding.at_version,
        "subject": finding.subject,
        "scope": scope,
        "name": finding.name,
        "severity": finding.severity.value,
        "detail": finding.detail,
        "occurred_at": finding.occurred_at,
        "fires_at": finding.fires_at,
        "surgeon_id": finding.surgeon_id,
        "surgery_version": finding.surgery_version,
        "referrer_id": finding.referrer_id or episode["referrer_id"],
        "opened_at": opened_at,
    }
