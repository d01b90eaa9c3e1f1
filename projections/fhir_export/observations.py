"""Observations and reports: red-flag screens, diagnostics and patient-reported outcomes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.values import DiagnosticKind, Instrument, RedFlag
from projections.fhir_export import references as r
from projections.fhir_export.codes import (
    DIAGNOSTIC_SERVICE,
    OUTCOME_CODES,
    category,
    coding,
    local_concept,
    outcome_concept,
    quantity,
)
from projections.fhir_export.mapped import (
    Mapped,
    code_of,
    compact,
    instant,
    notes,
    number,
    shaped_by,
    text,
)
from projections.fhir_export.view import EpisodeView, Fact

# The observation category each diagnostic kind falls in (HL7 observation-category).
_CATEGORY = {
    DiagnosticKind.MRI: "imaging",
    DiagnosticKind.CT: "imaging",
    DiagnosticKind.XRAY: "imaging",
    DiagnosticKind.PHYSICAL_EXAM: "exam",
}


def _status(fact: Fact) -> str:
    # A corrected result is "amended" (FHIR: modified after being final).
    return "amended" if fact.amended_by else "final"


def _base(view: EpisodeView, fact: Fact, resource_type: str) -> dict[str, Any]:
    return {
        "resourceType": resource_type,
        "id": r.resource_id(view.episode_id, fact.version),
        "extension": r.episode_context(view.episode_id),
        "subject": r.patient(view.patient_id),
    }


def body_site(region: Any, levels: Sequence[str]) -> dict[str, Any]:
    """The region, coded locally, with the spinal levels in its text."""
    site = local_concept("region", region)
    if levels:
        site["text"] = f"{site['text']} {', '.join(levels)}"
    return site


def screening(view: EpisodeView, fact: Fact) -> Sequence[Mapped]:
    """A red-flag screen: one component per flag (a flag not listed is ruled out)."""
    flags = {code_of(flag) for flag in fact.data["flags"]}
    components = [
        {"code": local_concept("red-flag", flag), "valueBoolean": flag.value in flags}
        for flag in RedFlag
    ]
    components.append(
        {
            "code": local_concept("screening", "disposition"),
            "valueCodeableConcept": local_concept(
                "disposition", fact.data["disposition"]
            ),
        }
    )
    resource = {
        **_base(view, fact, "Observation"),
        "status": _status(fact),
        "category": [category("exam")],
        "code": local_concept("screening", "red_flag_screen", "red-flag screen"),
        "effectiveDateTime": instant(fact.occurred_at),
        "issued": instant(fact.recorded_at),
        "performer": [r.principal(fact.actor)],
        "component": components,
    }
    return [Mapped(compact(resource), shaped_by(fact))]


def diagnostic(view: EpisodeView, fact: Fact) -> Sequence[Mapped]:
    """A diagnostic: its report (conclusion, pain generator) and its observation."""
    data = fact.data
    kind = DiagnosticKind(data["kind"])
    findings = text(data.get("findings"))
    observation: dict[str, Any] = {
        **_base(view, fact, "Observation"),
        "status": _status(fact),
        "category": [category(_CATEGORY.get(kind, "procedure"))],
        "code": local_concept("diagnostic-kind", kind),
        "effectiveDateTime": instant(fact.occurred_at),
        "issued": instant(fact.recorded_at),
        "performer": [r.principal(fact.actor)],
        "bodySite": body_site(data["region"], data.get("levels") or []),
    }
    if data.get("relief_percent") is not None:
        # A diagnostic block's result is the relief it gave.
        observation["valueQuantity"] = quantity(
            number(data["relief_percent"]), "%", "%"
        )
        observation["note"] = notes(findings)
    elif findings:
        observation["valueString"] = findings
    generator = data.get("pain_generator")
    report: dict[str, Any] = {
        **_base(view, fact, "DiagnosticReport"),
        "status": _status(fact),
        "category": [{"coding": [coding(DIAGNOSTIC_SERVICE, "RAD", "Radiology")]}]
        if kind.is_imaging
        else [local_concept("diagnostic-category", "procedure")],
        "code": local_concept("diagnostic-kind", kind),
        "effectiveDateTime": instant(fact.occurred_at),
        "issued": instant(fact.recorded_at),
        "performer": [r.principal(fact.actor)],
        "result": [r.ref("Observation", observation["id"])],
        "conclusion": findings,
        "conclusionCode": [local_concept("pain-generator", generator)]
        if generator
        else [],
    }
    versions = shaped_by(fact)
    return [Mapped(compact(report), versions), Mapped(compact(observation), versions)]


def outcome(view: EpisodeView, fact: Fact) -> Sequence[Mapped]:
    """A patient-reported outcome, LOINC-coded where a code exists."""
    instrument = Instrument(fact.data["instrument"])
    unit = OUTCOME_CODES[instrument]
    resource: dict[str, Any] = {
        **_base(view, fact, "Observation"),
        "status": _status(fact),
        "category": [category("survey")],
        "code": outcome_concept(instrument),
        "effectiveDateTime": instant(fact.occurred_at),
        "issued": instant(fact.recorded_at),
        "performer": [r.principal(fact.actor)],
        "valueQuantity": quantity(number(fact.data["score"]), unit.unit, unit.ucum),
    }
    follows = fact.data.get("follows_version")
    if follows is not None:
        # The treatment this outcome measures: each is a Procedure of the export.
        resource["partOf"] = [
            r.ref("Procedure", r.resource_id(view.episode_id, int(follows)))
        ]
    return [Mapped(compact(resource), shaped_by(fact))]
