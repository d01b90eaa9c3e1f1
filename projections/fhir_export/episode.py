"""The episode itself: an EpisodeOfCare with its status history."""

from __future__ import annotations

from typing import Any

from projections.fhir_export import references as r
from projections.fhir_export.codes import (
    CLOSURE_EXTENSION,
    coding,
    identifier_system,
    local_system,
)
from projections.fhir_export.mapped import Mapped, code_of, compact, instant
from projections.fhir_export.view import EpisodeView

# The events that change what the EpisodeOfCare says.
SHAPING = ("ReferralReceived", "ClinicianAssigned", "EpisodeClosed")


def episode_of_care(view: EpisodeView) -> Mapped:
    """Status (active, then finished), its history, referrals and care manager."""
    opened = view.facts[0]
    closure = view.closure
    active: dict[str, Any] = {"start": instant(opened.occurred_at)}
    history: list[dict[str, Any]] = [{"status": "active", "period": active}]
    if closure is not None:
        active["end"] = instant(closure.occurred_at)
        history.append(
            {"status": "finished", "period": {"start": instant(closure.occurred_at)}}
        )
    assignments = view.of_type("ClinicianAssigned")
    manager = assignments[-1].data if assignments else None
    referrals = view.of_type("ReferralReceived")
    resource: dict[str, Any] = {
        "resourceType": "EpisodeOfCare",
        "id": str(view.episode_id),
        "identifier": [
            {"system": identifier_system("episode"), "value": str(view.episode_id)}
        ],
        "status": "finished" if closure else "active",
        "statusHistory": history,
        "type": [
            {
                "coding": [coding(local_system("episode-type"), "spine_care")],
                "text": "spine and back-pain care",
            }
        ],
        "patient": r.patient(view.patient_id),
        "period": dict(active),
        "referralRequest": [
            r.ref("ServiceRequest", r.resource_id(view.episode_id, f.version))
            for f in referrals
        ],
        "careManager": r.by_identifier(
            "Practitioner",
            "clinician",
            manager["clinician_id"],
            manager["clinician_name"],
        )
        if manager
        else None,
    }
    if closure is not None:
        resource["extension"] = [
            {
                "url": CLOSURE_EXTENSION,
                "valueCoding": coding(
                    local_system("closure-reason"), code_of(closure.data["reason"])
                ),
            }
        ]
    versions = {
        v for f in view.facts if f.type in SHAPING for v in (f.version, *f.amended_by)
    }
    return Mapped(compact(resource), tuple(sorted(versions)))
