"""What a valid payload of each event looks like, checked before anything is recorded.

These checks need no episode state; the rules that do live on CareEpisode.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from domain.errors import RuleViolation
from domain.guards import (
    MAX_BIOLOGIC_ML,
    MAX_ID,
    MAX_NAME,
    MAX_SESSIONS,
    MIN_JUSTIFICATION,
    check_aware,
    check_count,
    check_date,
    check_decimal,
    check_identifier,
    check_optional_text,
    check_percent,
    check_plan_item,
    check_referrer,
    check_surgeon,
    check_text,
)
from domain.values import (
    BiologicProduct,
    CareResponse,
    ClosureReason,
    ConservativeModality,
    DiagnosticKind,
    Disposition,
    Indication,
    Instrument,
    PainGenerator,
    PlanItem,
    Presentation,
    Procedure,
    RedFlag,
    Referrer,
    RegenerativeOption,
    Region,
    Service,
    Side,
    Surgeon,
    SurgicalIntent,
    Urgency,
    parse_enum,
    parse_enums,
    parse_levels,
)

Payload = dict[str, Any]


def _optional_enum(enum_cls: Any, value: Any, field: str) -> Any:
    return None if value is None else parse_enum(enum_cls, value, field)


def first_referral(
    *,
    patient_id: str,
    referrer: Referrer | Mapping[str, Any],
    receiving_service: Any,
    reason: str,
    presentation: Any,
    symptom_onset: date | None,
    insurance_mandated: bool,
    red_flags: Sequence[Any],
    occurred_at: datetime,
) -> Payload:
    """The referral that opens an episode."""
    if symptom_onset is not None:
        check_date(symptom_onset, "symptom_onset")
        if symptom_onset > check_aware(occurred_at).date():
            msg = (
                f"symptom_onset {symptom_onset.isoformat()} is after the referral "
                f"({occurred_at.date().isoformat()})"
            )
            raise RuleViolation(msg, field="symptom_onset")
    return {
        "patient_id": check_identifier(patient_id, "patient_id"),
        "referrer": check_referrer(referrer),
        "receiving_service": parse_enum(
            Service, receiving_service, "receiving_service"
        ),
        "reason": check_text(reason, "reason"),
        "presentation": _optional_enum(Presentation, presentation, "presentation"),
        "symptom_onset": symptom_onset,
        "insurance_mandated": bool(insurance_mandated),
        "red_flags": parse_enums(RedFlag, red_flags, "red_flags"),
    }


def further_referral(
    *, referrer: Referrer | Mapping[str, Any], receiving_service: Any, reason: str
) -> Payload:
    """A later referral: the patient moves to (or back to) a service."""
    return {
        "referrer": check_referrer(referrer),
        "receiving_service": parse_enum(
            Service, receiving_service, "receiving_service"
        ),
        "reason": check_text(reason, "reason"),
        "presentation": None,
        "symptom_onset": None,
        "insurance_mandated": False,
        "red_flags": [],
    }


def red_flag_screen(*, flags: Sequence[Any], disposition: Any) -> Payload:
    return {
        "flags": parse_enums(RedFlag, flags, "flags"),
        "disposition": parse_enum(Disposition, disposition, "disposition"),
    }


def diagnostic(
    *,
    kind: Any,
    region: Any,
    levels: Sequence[str],
    relief_percent: int | None,
    findings: str | None,
    pain_generator: Any,
) -> Payload:
    """A completed diagnostic; only a block states the relief it gave."""
    kind = parse_enum(DiagnosticKind, kind, "kind")
    if kind.is_block:
        if relief_percent is None:
            msg = f"a {kind.value} must record relief_percent"
            raise RuleViolation(msg, field="relief_percent")
        relief_percent = check_percent(relief_percent, "relief_percent")
    elif relief_percent is not None:
        msg = f"relief_percent applies to diagnostic blocks, not to {kind.value}"
        raise RuleViolation(msg, field="relief_percent")
    if pain_generator in ("", "none"):
        pain_generator = None
    return {
        "kind": kind,
        "region": parse_enum(Region, region, "region"),
        "levels": parse_levels(levels),
        "relief_percent": relief_percent,
        "findings": check_optional_text(findings, "findings"),
        "pain_generator": _optional_enum(
            PainGenerator, pain_generator, "pain_generator"
        ),
    }


def conservative_course(
    *,
    modality: Any,
    started_on: date,
    ended_on: date | None,
    sessions: int | None,
    response: Any,
    occurred_at: datetime,
) -> Payload:
    """A course of conservative care; its dates must make sense."""
    check_date(started_on, "started_on")
    if started_on > check_aware(occurred_at).date():
        msg = f"started_on {started_on} is after the event occurred ({occurred_at})"
        raise RuleViolation(msg, field="started_on")
    if ended_on is not None and check_date(ended_on, "ended_on") < started_on:
        msg = f"ended_on {ended_on} is before started_on {started_on}"
        raise RuleViolation(msg, field="ended_on")
    return {
        "modality": parse_enum(ConservativeModality, modality, "modality"),
        "started_on": started_on,
        "ended_on": ended_on,
        "sessions": (
            None
            if sessions is None
            else check_count(sessions, "sessions", MAX_SESSIONS)
        ),
        "response": _optional_enum(CareResponse, response, "response"),
    }


def treatment_plan(
    *,
    items: Sequence[PlanItem | Mapping[str, Any]],
    goals: str,
    regenerative_option: Any,
) -> Payload:
    """A plan: at least one item, its goals, and where regenerative care stands."""
    if not items:
        raise RuleViolation("a treatment plan needs at least one item", field="items")
    return {
        "items": [check_plan_item(item) for item in items],
        "goals": check_text(goals, "goals"),
        "regenerative_option": parse_enum(
            RegenerativeOption, regenerative_option, "regenerative_option"
        ),
    }


def intervention(
    *, procedure: Any, region: Any, levels: Sequence[str], side: Any, image_guided: bool
) -> Payload:
    """A therapeutic procedure; all but an SI-joint injection name their levels."""
    procedure = parse_enum(Procedure, procedure, "procedure")
    parsed_levels = parse_levels(levels)
    if not parsed_levels and procedure is not Procedure.SI_JOINT_INJECTION:
        msg = f"a {procedure.value} must name the levels treated"
        raise RuleViolation(msg, field="levels")
    return {
        "procedure": procedure,
        "region": parse_enum(Region, region, "region"),
        "levels": parsed_levels,
        "side": _optional_enum(Side, side, "side"),
        "image_guided": bool(image_guided),
    }


def biologic(
    *,
    product: Any,
    target: str,
    levels: Sequence[str],
    volume_ml: Any,
    lot_number: str,
    image_guided: bool,
) -> Payload:
    """A regenerative biologic: target and lot number keep the product traceable."""
    volume = check_decimal(volume_ml, "volume_ml")
    if not Decimal(0) < volume <= MAX_BIOLOGIC_ML:
        msg = f"volume_ml must be above 0 and at most {MAX_BIOLOGIC_ML}, not {volume}"
        raise RuleViolation(msg, field="volume_ml")
    return {
        "product": parse_enum(BiologicProduct, product, "product"),
        "target": check_text(target, "target", max_len=MAX_NAME),
        "levels": parse_levels(levels),
        "volume_ml": volume,
        "lot_number": check_text(lot_number, "lot_number", max_len=MAX_ID),
        "image_guided": bool(image_guided),
    }


def outcome(*, instrument: Any, score: Any, follows_version: int | None) -> Payload:
    """A patient-reported outcome, in range for its instrument."""
    instrument = parse_enum(Instrument, instrument, "instrument")
    score = check_decimal(score, "score")
    low, high = instrument.score_range
    if not low <= score <= high:
        msg = f"a {instrument.value} score must be from {low} to {high}, not {score}"
        raise RuleViolation(msg, field="score")
    if follows_version is not None and (
        isinstance(follows_version, bool)
        or not isinstance(follows_version, int)
        or follows_version < 1
    ):
        msg = f"follows_version must be a version number, not {follows_version!r}"
        raise RuleViolation(msg, field="follows_version")
    return {
        "instrument": instrument,
        "score": score,
        "follows_version": follows_version,
    }


def surgery_referral(
    *,
    surgeon: Surgeon | Mapping[str, Any],
    urgency: Any,
    intent: Any,
    indication: Any,
    justification: str,
) -> Payload:
    """A referral to a spine surgeon, which must say why."""
    if len(str(justification or "").strip()) < MIN_JUSTIFICATION:
        msg = (
            "a surgery referral needs a justification "
            f"(at least {MIN_JUSTIFICATION} characters saying why)"
        )
        raise RuleViolation(msg, field="justification")
    return {
        "surgeon": check_surgeon(surgeon),
        "urgency": parse_enum(Urgency, urgency, "urgency"),
        "intent": parse_enum(SurgicalIntent, intent, "intent"),
        "indication": parse_enum(Indication, indication, "indication"),
        "justification": check_text(justification, "justification"),
    }


def consult_note(*, to_physician_id: str, summary: str) -> Payload:
    return {
        "to_physician_id": check_identifier(to_physician_id, "to_physician_id"),
        "summary": check_text(summary, "summary"),
    }


def assignment(*, clinician_id: str, clinician_name: str) -> Payload:
    return {
        "clinician_id": check_identifier(clinician_id, "clinician_id"),
        "clinician_name": check_text(
            clinician_name, "clinician_name", max_len=MAX_NAME
        ),
    }


def closure(*, reason: Any) -> Payload:
    return {"reason": parse_enum(ClosureReason, reason, "reason")}
