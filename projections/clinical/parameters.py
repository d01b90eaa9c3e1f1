"""Clinical thresholds the definitions read, each with its source (DOMAIN.md).

Payers and countries differ, so no definition reads a literal; the read models
compose these values into their own versioned parameters (AuditRules,
WorklistRules ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType


@dataclass(frozen=True)
class BlockProfile:
    """How many diagnostic medial branch blocks, at what relief, confirm facet pain."""

    name: str
    min_relief_percent: int
    blocks_required: int
    within_months: int | None
    """How recent (calendar months) the blocks must be before an RFA; None: any."""


# CMS LCD L38801 (facet joint interventions): two diagnostic medial branch blocks,
# each with >= 80 % relief, before radiofrequency ablation.
PAYER_BLOCKS = BlockProfile("payer", 80, 2, None)
# NICE NG59 (RFA only after a positive diagnostic medial branch block) as the NHS
# applies it (DOMAIN.md): one block with >= 50 % relief within 6 months.
NHS_BLOCKS = BlockProfile("nhs", 50, 1, 6)
BLOCK_PROFILES = {profile.name: profile for profile in (PAYER_BLOCKS, NHS_BLOCKS)}


def block_profile(name: str) -> BlockProfile:
    """The named block profile ("payer" or "nhs")."""
    if name not in BLOCK_PROFILES:
        allowed = ", ".join(sorted(BLOCK_PROFILES))
        raise ValueError(f"block profile {name!r} is not one of: {allowed}")
    return BLOCK_PROFILES[name]


@dataclass(frozen=True)
class Evidence:
    """What must back a named pain generator before it counts as identified
    (DOMAIN.md v2 "Pain generator identified")."""

    blocks: BlockProfile
    # CMS LCD L39402 (SI joint): a diagnostic SI joint block with >= 75 % relief.
    si_block_min_relief: int = 75
    # Discogenic, radicular and stenosis pain need imaging that shows it (ACR
    # Appropriateness Criteria low back pain 2021); EMG/NCS also confirms a
    # radiculopathy (NASS).
    confirmed_by: Mapping[str, frozenset[str]] = field(
        default_factory=lambda: MappingProxyType(
            {
                "discogenic": frozenset({"mri", "ct"}),
                "radicular": frozenset({"mri", "ct", "emg_ncs"}),
                "stenosis": frozenset({"mri", "ct"}),
            }
        )
    )
    # Myofascial pain is a clinical diagnosis: the examination may rest on itself.
    named_suffices: frozenset[str] = frozenset({"myofascial"})
    # "Nonspecific" says no true source of pain was found (NICE NG59 wording).
    never: frozenset[str] = frozenset({"nonspecific"})


@dataclass(frozen=True)
class Mcid:
    """A minimal clinically important improvement on one outcome instrument."""

    points: Decimal
    percent: Decimal | None
    higher_is_better: bool


# DOMAIN.md outcomes; Ostelo et al. 2008 (NRS 2 points or 30 %, ODI 10 points or
# 30 %). PROMIS: 5 T-score points, the upper end of the 3.5-5 range, so a
# "meaningful change" is never overstated.
MCID: Mapping[str, Mcid] = MappingProxyType(
    {
        "nrs_pain": Mcid(Decimal(2), Decimal(30), higher_is_better=False),
        "odi": Mcid(Decimal(10), Decimal(30), higher_is_better=False),
        "promis_pf": Mcid(Decimal(5), None, higher_is_better=True),
        "promis_pi": Mcid(Decimal(5), None, higher_is_better=False),
    }
)
# A responder reports >= 50 % relief (CMS LCD L33906, DOMAIN.md outcomes).
RESPONDER_RELIEF_PERCENT = 50
