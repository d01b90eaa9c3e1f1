"""The quality measures' view tables and their rows.

DECISIONS holds one row per measure and episode (per repeated ESI session for
ESI-RESP): the verdict judged from the recorded events, the deciding events,
and for a window still open the instant it closes (`due_at`) with the verdict
that holds until then (`early_*`). Readers pick one at their `now`. `scope`
says which key wrote the row: the episode's (FS-CHG, PROM-REG) or the
patient's (LBP-IMG, ESI-RESP, which look across the patient's episodes), so
neither key's rewrite wipes the other's rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from typing import Any

from projections.base import Column, Table
from projections.quality_measures.decisions import Decision

EPISODE_SCOPE = "episode"
PATIENT_SCOPE = "patient"
# Readers page each measure's rows in this order.
ORDER = ("anchor_at", "episode_id", "subject")

DECISIONS = Table(
    name="decisions",
    columns=(
        Column("measure", "text", nullable=False),
        Column("episode_id", "text", nullable=False),
        Column("subject", "text", nullable=False),
        Column("scope", "text", nullable=False),
        Column("patient_id", "text", nullable=False),
        # The opening referrer: rates per referrer charge the episode to it.
        Column("referrer_id", "text", nullable=False),
        Column("opened_at", "timestamp", nullable=False),
        Column("anchor_at", "timestamp", nullable=False),
        # The UTC calendar month of anchor_at ("2026-03"): rates per period.
        Column("period", "text", nullable=False),
        Column("status", "text", nullable=False),
        Column("exclusion", "text"),
        Column("reason", "text", nullable=False),
        Column("due_at", "timestamp"),
        Column("early_status", "text"),
        Column("early_exclusion", "text"),
        Column("early_reason", "text"),
        # The events that decided it, each with its episode, version and
        # global position (a row has no version of its own: it changes with them).
        Column("deciding", "json", nullable=False),
    ),
    key=("measure", "episode_id", "subject"),
    indexes=(("measure", *ORDER), ("episode_id", "scope")),
)

# Every physician or service that referred the patient into the episode: a
# physician reads the decisions of the episodes it referred.
REFERRERS = Table(
    name="referrers",
    columns=(
        Column("episode_id", "text", nullable=False),
        Column("referrer_id", "text", nullable=False),
    ),
    key=("episode_id", "referrer_id"),
    indexes=(("referrer_id", "episode_id"),),
)


def decision_row(
    episode: Mapping[str, Any], decision: Decision, scope: str
) -> dict[str, Any]:
    """A decision's row; `episode` gives episode_id, patient_id, referrer_id and
    opened_at of the episode that holds it."""
    verdict, early = decision.verdict, decision.early
    anchor = decision.anchor_at.astimezone(UTC)
    return {
        "measure": decision.measure,
        "episode_id": episode["episode_id"],
        "subject": decision.subject,
        "scope": scope,
        "patient_id": episode["patient_id"],
        "referrer_id": episode["referrer_id"],
        "opened_at": episode["opened_at"],
        "anchor_at": decision.anchor_at,
        "period": f"{anchor.year:04d}-{anchor.month:02d}",
        "status": verdict.status.value,
        "exclusion": verdict.exclusion,
        "reason": verdict.reason,
        "due_at": decision.due_at,
        "early_status": early.status.value if early else None,
        "early_exclusion": early.exclusion if early else None,
        "early_reason": early.reason if early else None,
        "deciding": [dict(entry) for entry in decision.deciding],
    }
