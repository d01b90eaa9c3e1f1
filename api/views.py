"""Turning domain objects into response schemas."""

from __future__ import annotations

from typing import Any

from api.schemas.episodes import (
    ENTRY_LISTS,
    AssigneePublic,
    EpisodePublic,
    HistoryItem,
    json_value,
)
from domain.application import HistoryEntry
from domain.episode import CareEpisode


def referrers(episode: CareEpisode) -> set[str]:
    """Every physician or service that referred the patient into this episode."""
    return {
        entry.data["referrer"].id for entry in episode.entries_of("ReferralReceived")
    }


def episode_public(episode: CareEpisode) -> EpisodePublic:
    """The episode's state as the API shows it."""
    lists: dict[str, list[dict[str, Any]]] = {name: [] for name in ENTRY_LISTS.values()}
    for entry in episode.entries:
        lists[ENTRY_LISTS[entry.type]].append(
            {
                "version": entry.version,
                "occurred_at": entry.occurred_at,
                "recorded_at": entry.recorded_at,
                "actor": json_value(entry.actor),
                **json_value(entry.data),
            }
        )
    assignee = (
        AssigneePublic(
            clinician_id=episode.assignee_id, clinician_name=episode.assignee_name
        )
        if episode.assignee_id and episode.assignee_name
        else None
    )
    assert (
        episode.referrer is not None and episode.opened_at and episode.last_occurred_at
    )
    return EpisodePublic.model_validate(
        {
            "episode_id": episode.id,
            "version": episode.version,
            "patient_id": episode.patient_id,
            "status": episode.status,
            "opened_at": episode.opened_at,
            "last_occurred_at": episode.last_occurred_at,
            "referrer": json_value(episode.referrer),
            "pathway": episode.pathway,
            "red_flags": episode.red_flags,
            "screened": episode.screened,
            "pain_generators": episode.pain_generators,
            "assignee": assignee,
            "closure_reason": episode.closure_reason,
            **lists,
        }
    )


def history_item(entry: HistoryEntry) -> HistoryItem:
    """One stored event as the history endpoint shows it."""
    return HistoryItem(
        version=entry.version,
        type=entry.type,
        position=entry.position,
        occurred_at=entry.occurred_at,
        recorded_at=entry.recorded_at,
        actor=json_value(entry.actor),
        idempotency_key=entry.idempotency_key,
        chain_hash=entry.chain_hash,
        data=json_value(entry.data),
    )
