"""Procedures, the biologic's MedicationAdministration, and treatment plans."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from projections.fhir_export import references as r
from projections.fhir_export.codes import local_concept, quantity
from projections.fhir_export.mapped import (
    Mapped,
    code_of,
    compact,
    day,
    instant,
    notes,
    number,
    shaped_by,
    text,
)
from projections.fhir_export.observations import body_site
from projections.fhir_export.view import EpisodeView, Fact


def _procedure(view: EpisodeView, fact: Fact) -> dict[str, Any]:
    return {
        "resourceType": "Procedure",
        "id": r.resource_id(view.episode_id, fact.version),
        "extension": r.episode_context(view.episode_id),
        "subject": r.patient(view.patient_id),
        "recorder": r.principal(fact.actor),
    }


def conservative_care(view: EpisodeView, fact: Fact) -> Sequence[Mapped]:
    """A course of conservative care: a Procedure over the course's days."""
    data = fact.data
    ended = day(data["ended_on"]) if data.get("ended_on") else None
    # A planned end after the day it was recorded has not happened yet.
    done = ended is not None and ended <= fact.occurred_at.date().isoformat()
    period = {"start": day(data["started_on"])}
    if done and ended is not None:
        period["end"] = ended
    sessions = data.get("sessions")
    resource = {
        **_procedure(view, fact),
        "status": "completed" if done else "in-progress",
        "category": local_concept("procedure-category", "conservative_care"),
        "code": local_concept("conservative-modality", data["modality"]),
        "performedPeriod": period,
        "outcome": local_concept("care-response", data["response"])
        if data.get("response")
        else None,
        "note": notes(f"{sessions} sessions" if sessions else None),
    }
    return [Mapped(compact(resource), shaped_by(fact))]


def intervention(view: EpisodeView, fact: Fact) -> Sequence[Mapped]:
    """A therapeutic procedure at its region and levels."""
    data = fact.data
    side = data.get("side")
    site = body_site(data["region"], data.get("levels") or [])
    if side:
        site["text"] = f"{site['text']} ({code_of(side)})"
    resource = {
        **_procedure(view, fact),
        "status": "completed",
        "category": local_concept("procedure-category", "intervention"),
        "code": local_concept("procedure", data["procedure"]),
        "performedDateTime": instant(fact.occurred_at),
        "bodySite": [site],
        "note": notes("image guided" if data.get("image_guided") else None),
    }
    return [Mapped(compact(resource), shaped_by(fact))]


def biologic(view: EpisodeView, fact: Fact) -> Sequence[Mapped]:
    """A biologic: the injection as a Procedure, the product as a
    MedicationAdministration with its lot number (traceability)."""
    data = fact.data
    levels = data.get("levels") or []
    site = {"text": str(data["target"]) + (f" ({', '.join(levels)})" if levels else "")}
    procedure = {
        **_procedure(view, fact),
        "status": "completed",
        "category": local_concept("procedure-category", "biologic"),
        "code": local_concept("biologic-product", data["product"]),
        "performedDateTime": instant(fact.occurred_at),
        "bodySite": [site],
        "note": notes("image guided" if data.get("image_guided") else None),
    }
    medication = {
        "resourceType": "Medication",
        "id": "product",
        "code": local_concept("biologic-product", data["product"]),
        "batch": {"lotNumber": text(data["lot_number"])},
    }
    administration = {
        "resourceType": "MedicationAdministration",
        "id": r.resource_id(view.episode_id, fact.version),
        "contained": [medication],
        "status": "completed",
        "medicationReference": {"reference": "#product"},
        "subject": r.patient(view.patient_id),
        "context": r.ref("EpisodeOfCare", str(view.episode_id)),
        "effectiveDateTime": instant(fact.occurred_at),
        "performer": [{"actor": r.principal(fact.actor)}],
        "partOf": [r.ref("Procedure", procedure["id"])],
        "dosage": {
            "site": {"text": site["text"]},
            "dose": quantity(number(data["volume_ml"]), "mL", "mL"),
        },
    }
    versions = shaped_by(fact)
    return [Mapped(compact(procedure), versions), Mapped(administration, versions)]


def plan(view: EpisodeView, fact: Fact) -> Sequence[Mapped]:
    """A treatment plan; a later plan revokes it, closure completes the last one."""
    plans = view.of_type("TreatmentPlanned")
    later = next((p for p in plans if p.version > fact.version), None)
    closure = view.closure
    status = "active"
    more: tuple[int, ...] = ()
    if later is not None:
        status, more = "revoked", (later.version,)
    elif closure is not None:
        status, more = "completed", (closure.version,)
    data = fact.data
    resource = {
        "resourceType": "CarePlan",
        "id": r.resource_id(view.episode_id, fact.version),
        "extension": r.episode_context(view.episode_id),
        "status": status,
        "intent": "plan",
        "subject": r.patient(view.patient_id),
        "created": instant(fact.occurred_at),
        "author": r.principal(fact.actor),
        "description": text(data["goals"]),
        "activity": [
            {
                "detail": compact(
                    {
                        "code": local_concept("plan-item-kind", _item(item)[0]),
                        "status": "not-started",
                        "description": text(_item(item)[1]),
                    }
                )
            }
            for item in data["items"]
        ],
        "note": notes(
            "regenerative option: "
            + code_of(data["regenerative_option"]).replace("_", " ")
        ),
    }
    return [Mapped(compact(resource), shaped_by(fact, *more))]


def _item(item: Any) -> tuple[str, Any]:
    """A plan item's kind and detail (a PlanItem, or a corrected field's dict)."""
    if isinstance(item, dict):
        return code_of(item["kind"]), item.get("detail")
    return code_of(item.kind), item.detail
