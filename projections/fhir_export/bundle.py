"""An episode as FHIR R4 resources, and as a Bundle of type collection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from domain.reading import EpisodeReading
from projections.fhir_export import observations, procedures, referrals
from projections.fhir_export.codes import identifier_system
from projections.fhir_export.episode import episode_of_care
from projections.fhir_export.mapped import Mapped, Mapper, instant
from projections.fhir_export.provenance import provenances
from projections.fhir_export.view import EpisodeView, view_of

# The resources each event type maps to (beside the EpisodeOfCare and Provenance
# every episode and event get). Assignments and closure change the EpisodeOfCare.
MAPPERS: dict[str, Mapper] = {
    "ReferralReceived": referrals.referral,
    "RedFlagsScreened": observations.screening,
    "DiagnosticCompleted": observations.diagnostic,
    "ConservativeCareRecorded": procedures.conservative_care,
    "TreatmentPlanned": procedures.plan,
    "InterventionPerformed": procedures.intervention,
    "BiologicAdministered": procedures.biologic,
    "OutcomeRecorded": observations.outcome,
    "SurgeryReferred": referrals.referral,
    "ConsultNoteSent": referrals.consult_note,
}

RESOURCE_TYPES: tuple[str, ...] = (
    "EpisodeOfCare",
    "ServiceRequest",
    "Task",
    "Observation",
    "DiagnosticReport",
    "Procedure",
    "MedicationAdministration",
    "CarePlan",
    "Communication",
    "Provenance",
)
"""Every resource type an export holds, in the order a Bundle lists them."""


def map_episode(reading: EpisodeReading) -> list[Mapped]:
    """The episode's FHIR resources, each with meta.lastUpdated (the recorded time of
    the last event that shaped it) and the versions of the events that shaped it."""
    view = view_of(reading)
    return [Mapped(_stamped(view, m), m.versions) for m in _mapped(view)]


def episode_resources(reading: EpisodeReading) -> list[dict[str, Any]]:
    """The episode's FHIR resources, in the order a Bundle lists them."""
    return [m.resource for m in map_episode(reading)]


def _mapped(view: EpisodeView) -> list[Mapped]:
    found: list[Mapped] = [episode_of_care(view)]
    for fact in view.facts:
        mapper = MAPPERS.get(fact.type)
        if mapper is not None:
            found.extend(mapper(view, fact))
    found.extend(provenances(view, found))
    order = {name: n for n, name in enumerate(RESOURCE_TYPES)}
    return sorted(found, key=lambda m: (order[m.type], _version(m)))


def _version(mapped: Mapped) -> int:
    return mapped.versions[0] if mapped.versions else 0


def _stamped(view: EpisodeView, mapped: Mapped) -> dict[str, Any]:
    updated = max(view.recorded_at(v) for v in mapped.versions)
    return {
        "resourceType": mapped.resource["resourceType"],
        "id": mapped.resource["id"],
        "meta": {"lastUpdated": instant(updated)},
        **{k: v for k, v in mapped.resource.items() if k not in ("resourceType", "id")},
    }


def episode_bundle(
    reading: EpisodeReading,
    base_url: str,
    resources: Sequence[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The episode (as read: now, at a version or as of an instant) as a Bundle of
    type collection; `base_url` roots each entry's fullUrl (…/fhir)."""
    found = list(resources) if resources is not None else episode_resources(reading)
    newest = max(e.recorded_at for e in reading.entries)
    base = base_url.rstrip("/")
    return {
        "resourceType": "Bundle",
        # The same episode version always gives the same Bundle id.
        "id": str(uuid5(NAMESPACE_URL, f"{reading.episode_id}/{reading.version}")),
        "meta": {"lastUpdated": instant(newest)},
        "identifier": {
            "system": identifier_system("episode-version"),
            "value": f"{reading.episode_id}/{reading.version}",
        },
        "type": "collection",
        "timestamp": instant(newest),
        "entry": [
            {"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r}
            for r in found
        ],
    }
