"""FHIR R4 export of care episodes: a pure mapping of an episode's events to resources.

`view` reads the episode with amendments applied; `episode`, `referrals`,
`observations`, `procedures` and `provenance` map its events (DESIGN.md §7);
`codes` holds the code systems and the LOINC table; `bundle` puts them together
as resources (for bulk export) or as a Bundle of type collection.
"""

from projections.fhir_export.bundle import (
    MAPPERS,
    RESOURCE_TYPES,
    episode_bundle,
    episode_resources,
    map_episode,
)
from projections.fhir_export.codes import OUTCOME_CODES, OutcomeCode
from projections.fhir_export.mapped import Mapped

__all__ = [
    "MAPPERS",
    "OUTCOME_CODES",
    "RESOURCE_TYPES",
    "Mapped",
    "OutcomeCode",
    "episode_bundle",
    "episode_resources",
    "map_episode",
]
