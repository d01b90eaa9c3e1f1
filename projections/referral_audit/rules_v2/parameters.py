"""Rule set v2 of the referral-loop audit: every threshold in one versioned value.

Payers and countries differ, so no v2 rule reads a literal: each reads a field of
`AuditRulesV2` ("AuditRules v2"). Changing any value changes findings, so it
needs a new `version` and a new projection version (the engine rebuilds the
audit from position 0 beside the serving one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from types import MappingProxyType

from projections.clinical.definitions import ESI, INJECTIONS
from projections.clinical.parameters import (
    MCID,
    PAYER_BLOCKS,
    RESPONDER_RELIEF_PERCENT,
    BlockProfile,
    Evidence,
    Mcid,
    block_profile,
)


@dataclass(frozen=True)
class AuditRulesV2:
    """Every threshold rules R1-R11 (rule set v2) and the pathway metrics use."""

    version: int
    evidence: Evidence
    """What identifies a pain generator; holds the active block profile."""
    workup_imaging: frozenset[str]
    workup_months: int
    conservative_care_min_days: int
    injections: frozenset[str]
    regenerative_doors: frozenset[str]
    exempting_urgencies: frozenset[str]
    esi: str
    esi_max_sessions: int
    esi_window_days: int
    responder_relief_percent: int
    rfa: str
    rfa_blocks: Mapping[str, str]
    follow_up_target: timedelta
    follow_up_tolerance: timedelta
    cauda_equina_escalation: timedelta
    cauda_equina_answer: str
    infection_imaging: timedelta
    infection_imaging_kinds: frozenset[str]
    consult_note_within: timedelta
    consult_note_referrers: frozenset[str]
    surgery_closure: str
    mcid: Mapping[str, Mcid]
    outcome_horizons: Mapping[str, timedelta]
    severe_presentations: frozenset[str]
    severe_odi_above: Decimal
    severe_nrs_from: Decimal
    severe_window: timedelta

    @property
    def blocks(self) -> BlockProfile:
        """The active block profile (payer or NHS)."""
        return self.evidence.blocks

    @property
    def profile(self) -> str:
        """The active block profile's name, stored beside `version` on every row."""
        return self.evidence.blocks.name

    @property
    def follow_up_window(self) -> tuple[timedelta, timedelta]:
        """The earliest and latest follow-up after an intervention or biologic (R8)."""
        return (
            self.follow_up_target - self.follow_up_tolerance,
            self.follow_up_target + self.follow_up_tolerance,
        )


RULES_V2 = AuditRulesV2(
    version=2,
    # DOMAIN.md v2 "Pain generator identified"; payer block profile unless a
    # deployment selects "nhs" (CMS LCD L38801 / NICE NG59, clinical.parameters).
    evidence=Evidence(PAYER_BLOCKS),
    # R2: ACR Appropriateness Criteria 2021 and payer fusion policies: an MRI or CT
    # (not an X-ray) in the 6 calendar months before the surgery referral.
    workup_imaging=frozenset({"mri", "ct"}),
    workup_months=6,
    # R3 and DOMAIN.md "Surgery referral": premature with < 6 weeks of documented
    # conservative care (ACP 2017, payer fusion policies).
    conservative_care_min_days=42,
    # R4: the injections of DOMAIN.md's intervention list (CMS L39240, L38801,
    # L39402); an RFA or a biologic is another treatment.
    injections=INJECTIONS,
    # R4: a plan that recommends or offers a regenerative option opens that door;
    # "not_indicated" documents a judgement but opens no door.
    regenerative_doors=frozenset({"recommended", "offered_declined"}),
    # DOMAIN.md v2 red-flag exemption: emergent or urgent while a red flag stands.
    exempting_urgencies=frozenset({"emergent", "urgent"}),
    # R5: CMS LCD L39240: at most 4 ESI sessions per region group in a rolling
    # 12 months (365 days), per patient.
    esi=ESI,
    esi_max_sessions=4,
    esi_window_days=365,
    # R6 and DOMAIN.md outcomes: a responder reports >= 50 % relief (L33906).
    responder_relief_percent=RESPONDER_RELIEF_PERCENT,
    # R7: the block that must precede an RFA in each region (L38801, L39402).
    rfa="radiofrequency_ablation",
    rfa_blocks=MappingProxyType(
        {
            "cervical": "medial_branch_block",
            "thoracic": "medial_branch_block",
            "lumbar": "medial_branch_block",
            "sacroiliac": "si_joint_block",
        }
    ),
    # R8 and DOMAIN.md biologics: outcomes at 6 weeks, +/- 2 weeks.
    follow_up_target=timedelta(weeks=6),
    follow_up_tolerance=timedelta(weeks=2),
    # R9 and DOMAIN.md red flags: cauda equina is an emergency referral within
    # 4 h (NICE NG59, GIRFT); infection needs MRI or CT within 6 h (ACR 2021).
    cauda_equina_escalation=timedelta(hours=4),
    cauda_equina_answer="emergent",
    infection_imaging=timedelta(hours=6),
    infection_imaging_kinds=frozenset({"mri", "ct"}),
    # R10 and DOMAIN.md worklist consult_note_due: 14 days.
    consult_note_within=timedelta(days=14),
    consult_note_referrers=frozenset({"primary_care", "concierge"}),
    # R11: an episode closed because the patient went to surgery.
    surgery_closure="surgery",
    # DOMAIN.md outcomes, Ostelo et al. 2008 (clinical.parameters.MCID).
    mcid=MCID,
    # DOMAIN.md v2 pathway metrics: the latest outcome by day 91 and day 182.
    outcome_horizons=MappingProxyType(
        {"3_months": timedelta(days=91), "6_months": timedelta(days=182)}
    ),
    # DOMAIN.md v2 pathway metrics: radicular episodes with a severe baseline
    # (ODI > 40, the severe band and worse; NRS >= 7, severe pain), no surgery
    # referral and no meaningful change in their first 182 days.
    severe_presentations=frozenset({"radicular"}),
    severe_odi_above=Decimal(40),
    severe_nrs_from=Decimal(7),
    severe_window=timedelta(days=182),
)


def audit_rules_v2(profile: str = PAYER_BLOCKS.name) -> AuditRulesV2:
    """Rule set v2 with the named block profile ("payer" or "nhs") active."""
    return replace(RULES_V2, evidence=Evidence(block_profile(profile)))
