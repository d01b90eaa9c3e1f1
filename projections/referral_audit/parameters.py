"""The referral-loop audit's rule set: every threshold in one versioned value.

Payers and countries differ, so no rule reads a literal: each reads a field of
`AuditRules`. Changing any value here changes findings, so it needs a new
`version` (and a new projection version, which rebuilds the audit from position 0).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Literal, overload

from projections.clinical.parameters import Mcid
from projections.referral_audit.rules_v2.parameters import (
    AuditRulesV2,
    audit_rules_v2,
)

# DOMAIN.md speaks in months; the audit counts them as whole weeks of days.
THREE_MONTHS = timedelta(days=91)
SIX_MONTHS = timedelta(days=182)


@dataclass(frozen=True)
class BlockProfile:
    """How many diagnostic blocks, at what relief, confirm a pain generator."""

    name: str
    min_relief_percent: int
    blocks_required: int
    within: timedelta | None
    """How recent the blocks must be before an RFA; None: no limit."""


# CMS LCD L38801 (facet): two diagnostic medial branch blocks, each >= 80 % relief.
PAYER_BLOCKS = BlockProfile("payer", 80, 2, None)
# NICE NG59 (RFA only after a positive diagnostic medial branch block) as the NHS
# EBI guidance applies it, and DOMAIN.md: one block >= 50 % within 6 months.
NHS_BLOCKS = BlockProfile("nhs", 50, 1, SIX_MONTHS)
BLOCK_PROFILES = {profile.name: profile for profile in (PAYER_BLOCKS, NHS_BLOCKS)}


@dataclass(frozen=True)
class AuditRules:
    """Every threshold rules R1-R10 and the pathway metrics use (DOMAIN.md)."""

    version: int
    blocks: BlockProfile
    imaging_kinds: frozenset[str]
    imaging_window: timedelta
    conservative_care_minimum: timedelta
    regenerative_doors: frozenset[str]
    exempting_urgencies: frozenset[str]
    generators_needing_blocks: Mapping[str, str]
    generators_not_identified: frozenset[str]
    esi_max_per_region: int
    esi_window: timedelta
    responder_relief_percent: int
    rfa_blocks: Mapping[str, str]
    follow_up_target: timedelta
    follow_up_tolerance: timedelta
    cauda_equina_escalation: timedelta
    infection_imaging: timedelta
    consult_note_within: timedelta
    consult_note_referrers: frozenset[str]
    mcid: Mapping[str, Mcid]
    outcome_horizons: Mapping[str, timedelta]
    severe_presentations: frozenset[str]
    severe_odi_above: Decimal
    severe_nrs_from: Decimal
    severe_without_surgery_after: timedelta

    @property
    def follow_up_window(self) -> tuple[timedelta, timedelta]:
        """The earliest and latest follow-up after an intervention or biologic (R8)."""
        return (
            self.follow_up_target - self.follow_up_tolerance,
            self.follow_up_target + self.follow_up_tolerance,
        )

    @property
    def profile(self) -> str:
        """The active block profile's name, stored beside `version` on every row."""
        return self.blocks.name


RULES_V1 = AuditRules(
    version=1,
    # DOMAIN.md diagnostics: payer profile unless a deployment selects "nhs".
    blocks=PAYER_BLOCKS,
    # R2: ACR Appropriateness Criteria 2021 / payer fusion policies: imaging in the
    # 6 months before an elective surgery referral.
    imaging_kinds=frozenset({"mri", "ct", "xray"}),
    imaging_window=SIX_MONTHS,
    # R3 and DOMAIN.md "Surgery referral": premature with < 6 weeks of documented
    # conservative care (ACP 2017, payer fusion policies).
    conservative_care_minimum=timedelta(weeks=6),
    # R4: the regenerative door is open when a plan recommends or offers it;
    # "not_indicated" documents a judgement but opens no door.
    regenerative_doors=frozenset({"recommended", "offered_declined"}),
    # DOMAIN.md red-flag exemption: an emergent or urgent surgery referral.
    exempting_urgencies=frozenset({"emergent", "urgent"}),
    # DOMAIN.md "Pain generator": facet pain cannot be identified without blocks;
    # SI-joint pain likewise (CMS LCD L39402). The active profile says how many.
    generators_needing_blocks=MappingProxyType(
        {"facet": "medial_branch_block", "sacroiliac": "si_joint_block"}
    ),
    # "nonspecific" says no true source of pain was found (NICE NG59 wording).
    generators_not_identified=frozenset({"nonspecific"}),
    # R5: CMS LCD L33906: at most 4 ESI sessions per region in a rolling 12 months.
    esi_max_per_region=4,
    esi_window=timedelta(days=365),
    # R6 and DOMAIN.md outcomes: a responder reports >= 50 % relief (L33906).
    responder_relief_percent=50,
    # R7: the block that must precede an RFA in each region (L38801, L39402).
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
    # R9 and DOMAIN.md red flags: cauda equina is an emergency referral (MRI within
    # 4 h); infection needs imaging within 6 h (ACR Appropriateness Criteria 2021).
    cauda_equina_escalation=timedelta(hours=4),
    infection_imaging=timedelta(hours=6),
    # R10 and DOMAIN.md worklist consult_note_due: 14 days.
    consult_note_within=timedelta(days=14),
    consult_note_referrers=frozenset({"primary_care", "concierge"}),
    # DOMAIN.md outcomes, Ostelo et al. 2008. PROMIS: 5 T-score points, the upper
    # end of the 3.5-5 range, so a "meaningful change" is never overstated.
    mcid=MappingProxyType(
        {
            "nrs_pain": Mcid(Decimal(2), Decimal(30), higher_is_better=False),
            "odi": Mcid(Decimal(10), Decimal(30), higher_is_better=False),
            "promis_pf": Mcid(Decimal(5), None, higher_is_better=True),
            "promis_pi": Mcid(Decimal(5), None, higher_is_better=False),
        }
    ),
    # DOMAIN.md pathway metrics: meaningful change at 3 and 6 months.
    outcome_horizons=MappingProxyType(
        {"3_months": THREE_MONTHS, "6_months": SIX_MONTHS}
    ),
    # "Severe radicular symptoms": a radicular (or mixed) presentation whose latest
    # ODI is in the severe band or worse (> 40, DOMAIN.md bands) or whose latest
    # NRS is severe pain (>= 7, the usual 7-10 band).
    severe_presentations=frozenset({"radicular", "mixed"}),
    severe_odi_above=Decimal(40),
    severe_nrs_from=Decimal(7),
    severe_without_surgery_after=SIX_MONTHS,
)


@overload
def audit_rules(
    profile: str = ..., version: Literal[2] = ...
) -> AuditRulesV2: ...  # pragma: no cover


@overload
def audit_rules(
    profile: str, version: Literal[1]
) -> AuditRules: ...  # pragma: no cover


def audit_rules(
    profile: str = PAYER_BLOCKS.name, version: int = 2
) -> AuditRules | AuditRulesV2:
    """The rule set of `version` (2 by default) with the named block profile
    ("payer" or "nhs") active."""
    if version == 2:
        return audit_rules_v2(profile)
    if version != 1:
        raise ValueError(f"rules version {version!r} is not one of: 1, 2")
    if profile not in BLOCK_PROFILES:
        allowed = ", ".join(sorted(BLOCK_PROFILES))
        raise ValueError(f"block profile {profile!r} is not one of: {allowed}")
    return replace(RULES_V1, blocks=BLOCK_PROFILES[profile])
