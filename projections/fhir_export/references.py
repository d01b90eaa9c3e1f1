"""Resource ids and references: patients, physicians and principals by identifier only."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.values import Actor, PrincipalRole
from projections.fhir_export.codes import EPISODE_EXTENSION, identifier_system


def resource_id(episode_id: UUID, version: int) -> str:
    """The id of the resources one event of an episode maps to (unique per type)."""
    return f"{episode_id}-{version}"


def ref(resource_type: str, resource_id: str) -> dict[str, Any]:
    """A relative literal reference to a resource of the same export."""
    return {"reference": f"{resource_type}/{resource_id}"}


def by_identifier(
    resource_type: str, kind: str, value: str, display: str | None = None
) -> dict[str, Any]:
    """A logical reference: the target named by an identifier, never by a resource."""
    found: dict[str, Any] = {
        "type": resource_type,
        "identifier": {"system": identifier_system(kind), "value": value},
    }
    if display:
        found["display"] = display
    return found


def patient(patient_id: str) -> dict[str, Any]:
    """The pseudonymous patient: its identifier only (no name, no Patient resource)."""
    return by_identifier("Patient", "patient", patient_id)


def physician(physician_id: str, name: str | None = None) -> dict[str, Any]:
    """A referring physician or surgeon, by the id the service knows them by."""
    return by_identifier("Practitioner", "physician", physician_id, name)


def principal(actor: Actor) -> dict[str, Any]:
    """Who recorded an event: a system for the service role, else a person."""
    kind = "Device" if actor.role is PrincipalRole.SERVICE else "Practitioner"
    display = f"{actor.principal_id} ({actor.role.value})"
    return by_identifier(kind, "principal", actor.principal_id, display)


def episode_context(episode_id: UUID) -> list[dict[str, Any]]:
    """The workflow-episodeOfCare extension tying a resource to its episode."""
    return [
        {
            "url": EPISODE_EXTENSION,
            "valueReference": ref("EpisodeOfCare", str(episode_id)),
        }
    ]
