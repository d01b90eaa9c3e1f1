"""Enums and small value types of a care episode (DOMAIN.md vocabulary)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

from domain.errors import InvalidCommand


class ReferralSource(Enum):
    """Who sent the patient (DOMAIN.md 'Referral sources')."""

    PRIMARY_CARE = "primary_care"
    CONCIERGE = "concierge"
    SPINE_SURGERY = "spine_surgery"
    PAIN_MEDICINE = "pain_medicine"
    EMERGENCY = "emergency"
    SELF = "self"
    PHYSICAL_THERAPY = "physical_therapy"


class Service(Enum):
    """A service that can receive the patient; the pathway is these in order."""

    PRIMARY_CARE = "primary_care"
    CONCIERGE = "concierge"
    SPINE_SURGERY = "spine_surgery"
    PAIN_MEDICINE = "pain_medicine"
    EMERGENCY = "emergency"
    PHYSICAL_THERAPY = "physical_therapy"


class PrincipalRole(Enum):
    """The role of an authenticated caller that records or reads events."""

    SERVICE = "service"
    CLINICIAN = "clinician"
    AUDITOR = "auditor"
    PHYSICIAN = "physician"


class Presentation(Enum):
    AXIAL = "axial"
    RADICULAR = "radicular"
    CLAUDICATION = "claudication"
    MIXED = "mixed"


class AgeBand(Enum):
    """The patient's age in whole years at the opening referral.

    A band, not a birth date or year: patients stay pseudonymous, and the bands
    are cut where the quality measures cut (HEDIS LBP: 18 to 75), so a measure's
    age criterion is exact, with no guess about when a birthday falls.
    """

    UNDER_18 = "0-17"
    FROM_18_TO_34 = "18-34"
    FROM_35_TO_49 = "35-49"
    FROM_50_TO_64 = "50-64"
    FROM_65_TO_75 = "65-75"
    OVER_75 = "76+"


class RedFlag(Enum):
    CAUDA_EQUINA = "cauda_equina"
    PROGRESSIVE_NEURO_DEFICIT = "progressive_neuro_deficit"
    INFECTION = "infection"
    FRACTURE = "fracture"
    MALIGNANCY = "malignancy"


class Disposition(Enum):
    NONE = "none"
    URGENT_IMAGING = "urgent_imaging"
    EMERGENCY_REFERRAL = "emergency_referral"


class DiagnosticKind(Enum):
    MRI = "mri"
    CT = "ct"
    XRAY = "xray"
    EMG_NCS = "emg_ncs"
    MEDIAL_BRANCH_BLOCK = "medial_branch_block"
    SI_JOINT_BLOCK = "si_joint_block"
    DISCOGRAPHY = "discography"
    PHYSICAL_EXAM = "physical_exam"

    @property
    def is_block(self) -> bool:
        return self in (
            DiagnosticKind.MEDIAL_BRANCH_BLOCK,
            DiagnosticKind.SI_JOINT_BLOCK,
        )

    @property
    def is_imaging(self) -> bool:
        return self in (DiagnosticKind.MRI, DiagnosticKind.CT, DiagnosticKind.XRAY)


class PainGenerator(Enum):
    FACET = "facet"
    SACROILIAC = "sacroiliac"
    DISCOGENIC = "discogenic"
    RADICULAR = "radicular"
    STENOSIS = "stenosis"
    MYOFASCIAL = "myofascial"
    NONSPECIFIC = "nonspecific"


class Region(Enum):
    CERVICAL = "cervical"
    THORACIC = "thoracic"
    LUMBAR = "lumbar"
    SACROILIAC = "sacroiliac"


class Side(Enum):
    LEFT = "left"
    RIGHT = "right"
    BILATERAL = "bilateral"
    MIDLINE = "midline"


class ConservativeModality(Enum):
    PHYSICAL_THERAPY = "physical_therapy"
    EXERCISE = "exercise"
    CBT = "cbt"
    MEDICATION = "medication"
    CHIROPRACTIC = "chiropractic"


class CareResponse(Enum):
    """How the patient responded to a course of conservative care."""

    RESOLVED = "resolved"
    IMPROVED = "improved"
    UNCHANGED = "unchanged"
    WORSE = "worse"


class PlanItemKind(Enum):
    CONSERVATIVE_CARE = "conservative_care"
    DIAGNOSTIC = "diagnostic"
    INTERVENTION = "intervention"
    BIOLOGIC = "biologic"
    SURGICAL_CONSULT = "surgical_consult"
    EDUCATION = "education"


class RegenerativeOption(Enum):
    RECOMMENDED = "recommended"
    OFFERED_DECLINED = "offered_declined"
    NOT_INDICATED = "not_indicated"


class Procedure(Enum):
    EPIDURAL_STEROID_INJECTION = "epidural_steroid_injection"
    RADIOFREQUENCY_ABLATION = "radiofrequency_ablation"
    SI_JOINT_INJECTION = "si_joint_injection"
    FACET_INJECTION = "facet_injection"


class BiologicProduct(Enum):
    PRP = "prp"
    PLATELET_LYSATE = "platelet_lysate"
    BONE_MARROW_CONCENTRATE = "bone_marrow_concentrate"


class Instrument(Enum):
    """Patient-reported outcome instruments with their score ranges (DOMAIN.md)."""

    NRS_PAIN = "nrs_pain"
    ODI = "odi"
    PROMIS_PF = "promis_pf"
    PROMIS_PI = "promis_pi"
    RELIEF_PERCENT = "relief_percent"

    @property
    def score_range(self) -> tuple[int, int]:
        return _SCORE_RANGES[self]


_SCORE_RANGES = {
    Instrument.NRS_PAIN: (0, 10),
    Instrument.ODI: (0, 100),
    Instrument.PROMIS_PF: (20, 80),
    Instrument.PROMIS_PI: (20, 80),
    Instrument.RELIEF_PERCENT: (0, 100),
}


class Urgency(Enum):
    EMERGENT = "emergent"
    URGENT = "urgent"
    ELECTIVE = "elective"


class SurgicalIntent(Enum):
    CONSULT = "consult"
    DECOMPRESSION = "decompression"
    FUSION = "fusion"


class Indication(Enum):
    RED_FLAG = "red_flag"
    PROGRESSIVE_DEFICIT = "progressive_deficit"
    FAILED_CONSERVATIVE_CARE = "failed_conservative_care"
    INSTABILITY = "instability"
    PATIENT_PREFERENCE = "patient_preference"


class ClosureReason(Enum):
    RESOLVED = "resolved"
    SURGERY = "surgery"
    TRANSFERRED = "transferred"
    LOST_TO_FOLLOW_UP = "lost_to_follow_up"
    DECLINED = "declined"


class EpisodeStatus(Enum):
    OPEN = "open"
    CLOSED = "closed"


# Every enum whose values are stored in events; infra registers a transcoding
# for each so they come back as themselves, never as plain strings.
STORED_ENUMS: tuple[type[Enum], ...] = (
    ReferralSource,
    Service,
    PrincipalRole,
    Presentation,
    AgeBand,
    RedFlag,
    Disposition,
    DiagnosticKind,
    PainGenerator,
    Region,
    Side,
    ConservativeModality,
    CareResponse,
    PlanItemKind,
    RegenerativeOption,
    Procedure,
    BiologicProduct,
    Instrument,
    Urgency,
    SurgicalIntent,
    Indication,
    ClosureReason,
    EpisodeStatus,
)

E = TypeVar("E", bound=Enum)


def parse_enum(enum_cls: type[E], value: E | str, field: str) -> E:
    """Return `value` as a member of `enum_cls`, or raise naming the allowed values."""
    if isinstance(value, enum_cls):
        return value
    try:
        return enum_cls(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum_cls)
        msg = f"{field} {value!r} is not one of: {allowed}"
        raise InvalidCommand(msg, field=field) from None


def parse_enums(enum_cls: type[E], values: Any, field: str) -> list[E]:
    """Return each of `values` as a member of `enum_cls`, without duplicates."""
    parsed: list[E] = []
    for value in values or ():
        member = parse_enum(enum_cls, value, field)
        if member not in parsed:
            parsed.append(member)
    return parsed


# A spinal level or segment: "L4", "L4-L5", "L5-S1", "C5-C6", "S1".
_LEVEL = r"(C[1-7]|T(?:[1-9]|1[0-2])|L[1-5]|S[1-5])"
_LEVEL_RE = re.compile(rf"^{_LEVEL}(-{_LEVEL})?$")


def parse_levels(levels: Any, field: str = "levels") -> list[str]:
    """Return spinal levels in a canonical upper-case form, rejecting unknown ones."""
    parsed: list[str] = []
    for level in levels or ():
        text = str(level).strip().upper()
        if not _LEVEL_RE.match(text):
            msg = f"{field}: {level!r} is not a spinal level such as L4, L4-L5 or L5-S1"
            raise InvalidCommand(msg, field=field)
        if text not in parsed:
            parsed.append(text)
    return parsed


@dataclass(frozen=True)
class Actor:
    """Who recorded an event: the authenticated principal and its role."""

    principal_id: str
    role: PrincipalRole


@dataclass(frozen=True)
class Referrer:
    """The physician or service that referred the patient."""

    id: str
    name: str
    role: ReferralSource


@dataclass(frozen=True)
class Surgeon:
    id: str
    name: str


@dataclass(frozen=True)
class PlanItem:
    kind: PlanItemKind
    detail: str


@dataclass(frozen=True)
class Idempotency:
    """A caller's idempotency key and the fingerprint of its command."""

    key: str
    fingerprint: str


# Value types stored inside events; infra registers a transcoding for each.
STORED_VALUES: tuple[type, ...] = (Actor, Referrer, Surgeon, PlanItem, Idempotency)


@dataclass(frozen=True)
class Envelope:
    """Who records an event, when it is decided, and the caller's retry key.

    `now` is the server's clock at decision time; it is not stored, it only bounds
    a command's `occurred_at` ("not in the future").
    """

    actor: Actor
    now: datetime
    idempotency: Idempotency | None = None
