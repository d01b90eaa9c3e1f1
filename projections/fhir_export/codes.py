"""Code systems, identifiers and the outcome table the FHIR mapping uses (docs/fhir.md).

Standard systems where a code exists (LOINC for outcome scores, HL7 terminology for
categories and participation); a local code system per vocabulary of this service
otherwise, each a URN under `urn:care-episodes:` so nothing pretends to be a
published code system.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from domain.values import Instrument

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
DIAGNOSTIC_SERVICE = "http://terminology.hl7.org/CodeSystem/v2-0074"
DATA_OPERATION = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
PARTICIPANT_TYPE = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
# R4 core extension: "the episode(s) of care that establishes the context".
EPISODE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/workflow-episodeOfCare"

LOCAL = "urn:care-episodes"
CLOSURE_EXTENSION = f"{LOCAL}:extension:closure-reason"


def local_system(name: str) -> str:
    """The local code system of one vocabulary, e.g. `diagnostic-kind`."""
    return f"{LOCAL}:cs:{name}"


def identifier_system(kind: str) -> str:
    """The identifier system of one kind of id (patient, physician, principal ...)."""
    return f"{LOCAL}:id:{kind}"


def coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    """A FHIR Coding."""
    found: dict[str, Any] = {"system": system, "code": code}
    if display:
        found["display"] = display
    return found


def local_concept(vocabulary: str, value: Enum | str, text: str | None = None) -> dict:
    """A CodeableConcept in one of the local code systems, from an enum or its value."""
    code = value.value if isinstance(value, Enum) else str(value)
    concept: dict[str, Any] = {"coding": [coding(local_system(vocabulary), code)]}
    concept["text"] = text or code.replace("_", " ")
    return concept


def category(code: str) -> dict[str, Any]:
    """An observation category of HL7's code system (survey, imaging, exam ...)."""
    return {"coding": [coding(OBSERVATION_CATEGORY, code)]}


@dataclass(frozen=True)
class OutcomeCode:
    """How one instrument's score is coded: LOINC where a code exists, and its unit."""

    loinc: str | None
    display: str
    unit: str
    ucum: str


# Verified against LOINC's own pages and the CMS eCQM value sets that name them;
# docs/fhir.md gives the table with its sources.
OUTCOME_CODES: dict[Instrument, OutcomeCode] = {
    Instrument.NRS_PAIN: OutcomeCode(
        "72514-3",
        "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
        "score",
        "{score}",
    ),
    Instrument.ODI: OutcomeCode(
        "97909-6", "Oswestry disability index score ODI", "score", "{score}"
    ),
    Instrument.PROMIS_PF: OutcomeCode(
        "71959-1", "PROMIS-29 Physical function score T-score", "T-score", "{T-score}"
    ),
    Instrument.PROMIS_PI: OutcomeCode(
        "71961-7",
        "PROMIS-29 Pain interference score T-score",
        "T-score",
        "{T-score}",
    ),
    # No LOINC code fits "percent relief reported after a treatment": local only.
    Instrument.RELIEF_PERCENT: OutcomeCode(None, "Pain relief", "%", "%"),
}


def outcome_concept(instrument: Instrument) -> dict[str, Any]:
    """The code of an outcome Observation: LOINC (if any) and the local instrument."""
    code = OUTCOME_CODES[instrument]
    codings = [coding(local_system("instrument"), instrument.value, code.display)]
    if code.loinc is not None:
        codings.insert(0, coding(LOINC, code.loinc, code.display))
    return {"coding": codings, "text": code.display}


def quantity(value: Any, unit: str, ucum: str) -> dict[str, Any]:
    """A UCUM-coded Quantity (value already a JSON number)."""
    return {"value": value, "unit": unit, "system": UCUM, "code": ucum}
