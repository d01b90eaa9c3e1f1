"""Referrals as ServiceRequest + Task (the closed loop), consult notes as Communication.

A referral's loop closes when a consult note reaches the physician at its other
end: the referring physician for a referral received, the surgeon for a surgery
referral. The Task says where the loop stands: in progress until that note, then
completed (its output the Communication); failed if the episode closed first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from projections.fhir_export import references as r
from projections.fhir_export.codes import local_concept
from projections.fhir_export.mapped import (
    Mapped,
    code_of,
    compact,
    day,
    instant,
    notes,
    shaped_by,
    text,
)
from projections.fhir_export.view import EpisodeView, Fact

# How urgently the surgeon should see the patient, in FHIR's request priorities.
PRIORITY = {"emergent": "stat", "urgent": "urgent", "elective": "routine"}


@dataclass(frozen=True)
class Party:
    """The physician at the other end of a referral."""

    id: str
    name: str
    role: str | None


def party(value: Any) -> Party:
    """A Referrer or Surgeon value (or a corrected field's dict) as a Party."""
    if isinstance(value, dict):
        role = value.get("role")
        return Party(value["id"], value["name"], code_of(role) if role else None)
    role = getattr(value, "role", None)
    return Party(value.id, value.name, code_of(role) if role else None)


def counterpart(fact: Fact) -> Party:
    """Who must receive the consult note that closes this referral's loop."""
    return party(fact.data["surgeon" if fact.type == "SurgeryReferred" else "referrer"])


def closing_note(view: EpisodeView, fact: Fact) -> Fact | None:
    """The first consult note to the referral's counterpart recorded after it."""
    to = counterpart(fact).id
    return next(
        (
            note
            for note in view.of_type("ConsultNoteSent")
            if note.version > fact.version and note.data["to_physician_id"] == to
        ),
        None,
    )


def referral(view: EpisodeView, fact: Fact) -> Sequence[Mapped]:
    """A referral (received, or to a surgeon): its ServiceRequest and its Task."""
    note = closing_note(view, fact)
    closure = view.closure
    loop_versions = (note.version,) if note else (closure.version,) if closure else ()
    request = _service_request(view, fact, done=bool(note or closure))
    task = _task(view, fact, note, closure)
    return [
        Mapped(compact(request), shaped_by(fact, *loop_versions)),
        Mapped(compact(task), shaped_by(fact, *loop_versions)),
    ]


def _service_request(view: EpisodeView, fact: Fact, *, done: bool) -> dict[str, Any]:
    data = fact.data
    base: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": r.resource_id(view.episode_id, fact.version),
        "extension": r.episode_context(view.episode_id),
        "status": "completed" if done else "active",
        "intent": "order",
        "subject": r.patient(view.patient_id),
        "authoredOn": instant(fact.occurred_at),
    }
    if fact.type == "SurgeryReferred":
        surgeon = party(data["surgeon"])
        return {
            **base,
            "category": [local_concept("referral", "surgery_referral")],
            "code": local_concept("surgical-intent", data["intent"]),
            "priority": PRIORITY[code_of(data["urgency"])],
            "requester": r.principal(fact.actor),
            "performer": [r.physician(surgeon.id, surgeon.name)],
            "reasonCode": [local_concept("indication", data["indication"])],
            "note": notes(text(data["justification"])),
        }
    referrer = party(data["referrer"])
    flags = ", ".join(code_of(flag) for flag in data.get("red_flags") or [])
    onset = data.get("symptom_onset")
    presentation = data.get("presentation")
    return {
        **base,
        "category": [local_concept("referral-source", referrer.role or "unknown")],
        "code": local_concept("service", data["receiving_service"]),
        "requester": r.physician(referrer.id, referrer.name),
        "performerType": local_concept("service", data["receiving_service"]),
        "reasonCode": [
            {"text": text(data["reason"])},
            *([local_concept("presentation", presentation)] if presentation else []),
        ],
        "note": notes(
            f"red flags reported: {flags}" if flags else None,
            f"symptom onset {day(onset)}" if onset else None,
            "insurance-mandated pathway" if data.get("insurance_mandated") else None,
        ),
    }


def _task(
    view: EpisodeView, fact: Fact, note: Fact | None, closure: Fact | None
) -> dict[str, Any]:
    other = counterpart(fact)
    period: dict[str, str] = {"start": instant(fact.occurred_at)}
    task: dict[str, Any] = {
        "resourceType": "Task",
        "id": r.resource_id(view.episode_id, fact.version),
        "extension": r.episode_context(view.episode_id),
        "intent": "order",
        "code": local_concept("task", "close_referral_loop", "close the referral loop"),
        "focus": r.ref("ServiceRequest", r.resource_id(view.episode_id, fact.version)),
        "for": r.patient(view.patient_id),
        "authoredOn": instant(fact.occurred_at),
        "lastModified": instant(fact.recorded_at),
        "owner": r.physician(other.id, other.name)
        if fact.type == "SurgeryReferred"
        else r.by_identifier(
            "Organization", "service", code_of(fact.data["receiving_service"])
        ),
        "requester": r.principal(fact.actor)
        if fact.type == "SurgeryReferred"
        else r.physician(other.id, other.name),
        "executionPeriod": period,
    }
    if note is not None:
        period["end"] = instant(note.occurred_at)
        communication = r.ref(
            "Communication", r.resource_id(view.episode_id, note.version)
        )
        task.update(
            status="completed",
            lastModified=instant(note.recorded_at),
            businessStatus={"text": f"consult note sent to {other.id}"},
            output=[
                {
                    "type": local_concept("task-output", "consult_note"),
                    "valueReference": communication,
                }
            ],
        )
    elif closure is not None:
        period["end"] = instant(closure.occurred_at)
        task.update(
            status="failed",
            lastModified=instant(closure.recorded_at),
            statusReason={
                "text": f"the episode closed without a consult note to {other.id}"
            },
        )
    else:
        task.update(
            status="in-progress",
            businessStatus={"text": f"awaiting a consult note to {other.id}"},
        )
    return task


def consult_note(view: EpisodeView, fact: Fact) -> Sequence[Mapped]:
    """A consult note: a Communication to the physician, based on the referrals it
    closes."""
    to = fact.data["to_physician_id"]
    closes = [
        referral_fact
        for referral_fact in view.facts
        if referral_fact.type in ("ReferralReceived", "SurgeryReferred")
        and (closing := closing_note(view, referral_fact)) is not None
        and closing.version == fact.version
    ]
    resource = {
        "resourceType": "Communication",
        "id": r.resource_id(view.episode_id, fact.version),
        "extension": r.episode_context(view.episode_id),
        "basedOn": [
            r.ref("ServiceRequest", r.resource_id(view.episode_id, c.version))
            for c in closes
        ],
        "status": "completed",
        "category": [local_concept("communication", "consult_note", "consult note")],
        "subject": r.patient(view.patient_id),
        "sent": instant(fact.occurred_at),
        "recipient": [r.physician(to)],
        "sender": r.principal(fact.actor),
        "payload": [{"contentString": text(fact.data["summary"])}],
    }
    return [Mapped(compact(resource), shaped_by(fact))]
