"""Turning domain objects into response schemas."""

from __future__ import annotations

from typing import Any

from api.schemas.episodes import (
    AssigneePublic,
    EpisodePublic,
    HistoryItem,
    json_value,
)
from domain.application import HistoryEntry
from domain.reading import SECTION_OF_TYPE, SECTIONS, EpisodeReading


def episode_public(episode: EpisodeReading) -> EpisodePublic:
    """The episode's state as the API shows it."""
    sections: dict[str, list[dict[str, Any]]] = {name: [] for name in SECTIONS.values()}
    for entry in episode.entries:
        shown = {
            "version": entry.version,
            "occurred_at": entry.occurred_at,
            "recorded_at": entry.recorded_at,
            "actor": json_value(entry.actor),
            **json_value(entry.data),
        }
        if entry.type == "EventAmended":
            shown.pop("corrected", None)
            shown.pop("corrected_occurred_at", None)
        if entry.original is not None:
            shown["amended_by"] = list(entry.amended_by)
            shown["original"] = {
                "occurred_at": entry.original.occurred_at,
                **json_value(entry.original.data),
            }
        sections[SECTION_OF_TYPE[entry.type]].append(shown)
    assignee = (
        AssigneePublic(**json_value(episode.assignee)) if episode.assignee else None
    )
    return EpisodePublic.model_validate(
        {
            "episode_id": episode.episode_id,
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
            **sections,
        }
    )


def history_item(entry: HistoryEntry, *, global_position: bool = True) -> HistoryItem:
    """One stored event as the history endpoint shows it (without its global
    position, which would tell a physician how busy the whole store is)."""
    return HistoryItem(
        version=entry.version,
        type=entry.type,
        position=entry.position if global_position else None,
        occurred_at=entry.occurred_at,
        recorded_at=entry.recorded_at,
        actor=json_value(entry.actor),
        idempotency_key=entry.idempotency_key,
        chain_hash=entry.chain_hash,
        data=json_value(entry.data),
    )
