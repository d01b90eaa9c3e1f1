"""The accounting of disclosures (HIPAA 164.528), from the access log.

A patient's disclosures are the access-log entries that disclosed one of the
patient's episodes (the episode index says which episodes are the patient's).
The log records who, when and what; why is the reader's role's purpose, as
HIPAA names them. The log keeps entries for `CARE_ACCESS_LOG_RETENTION_YEARS`
(six at least, as 164.316 and 164.528 ask): nothing here deletes any.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from infra.access_log import AccessEntry, AccessLog
from infra.episode_index import EpisodeFilters, EpisodeIndex

PURPOSES_BY_ROLE = {
    "service": "treatment (an internal service of the care team)",
    "clinician": "treatment",
    "physician": "treatment (the referring physician)",
    "auditor": "health care operations (audit and compliance review)",
}
PURPOSES = "; ".join(f"{role}: {why}" for role, why in PURPOSES_BY_ROLE.items())
DISCLOSED = "disclosed"
PAGE = 500


def episodes_of(index: EpisodeIndex, patient_id: str) -> list[UUID]:
    """Every episode of the patient the index holds."""
    found: list[UUID] = []
    after = None
    while True:
        page, after = index.search(EpisodeFilters(patient_id=patient_id), after, PAGE)
        found += [episode.episode_id for episode in page]
        if after is None:
            return found


def disclosures_of(
    index: EpisodeIndex,
    log: AccessLog,
    patient_id: str,
    *,
    since: datetime | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[AccessEntry]:
    """The patient's disclosures, newest first, keyset-paged by `before_id`."""
    merged: dict[int, AccessEntry] = {}
    for episode_id in episodes_of(index, patient_id):
        for entry in log.entries(
            episode_id=episode_id, since=since, before_id=before_id, limit=limit
        ):
            if entry.outcome == DISCLOSED:
                merged[entry.id] = entry
    return [merged[i] for i in sorted(merged, reverse=True)][:limit]
