"""The physician feed's parameters: every threshold its summaries read, in one value.

A summary says whether a pain generator now counts as identified, whether an
outcome changed meaningfully, and which doors a surgery referral had opened.
Those judgements depend on thresholds that payers and countries set differently,
so they live here with their sources. Changing a value changes the texts of new
items only; rebuild the feed (`care-episodes projections rebuild physician_feed`)
to rewrite the old ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from projections.clinical.parameters import (
    MCID,
    PAYER_BLOCKS,
    RESPONDER_RELIEF_PERCENT,
    Evidence,
    Mcid,
    block_profile,
)


@dataclass(frozen=True)
class FeedParameters:
    """What the feed's summaries judge by (DOMAIN.md definitions, v2)."""

    version: int
    evidence: Evidence
    """What must back a named pain generator, with the active block profile."""
    mcid: Mapping[str, Mcid]
    """The meaningful change of each scored instrument."""
    responder_relief_percent: int
    imaging_kinds: frozenset[str]
    imaging_months: int
    """How many calendar months before a surgery referral imaging counts."""
    conservative_care_weeks: int
    """The documented conservative care an elective referral should follow."""
    regenerative_doors: frozenset[str]

    @property
    def profile(self) -> str:
        """The active block profile's name ("payer" or "nhs")."""
        return self.evidence.blocks.name


FEED_V1 = FeedParameters(
    version=1,
    # DOMAIN.md v2 "Pain generator identified"; CMS LCD L38801 (payer profile:
    # two medial branch blocks >= 80 %) unless the deployment selects "nhs".
    evidence=Evidence(PAYER_BLOCKS),
    # DOMAIN.md outcomes, Ostelo et al. 2008 (NRS 2 points or 30 %, ODI 10 points
    # or 30 %), PROMIS 5 T-score points (the upper end of 3.5-5, never overstated).
    mcid=MCID,
    # A responder reports >= 50 % relief (CMS LCD L33906).
    responder_relief_percent=RESPONDER_RELIEF_PERCENT,
    # DOMAIN.md R2 (v2): an MRI or CT in the 6 calendar months before the
    # referral; an X-ray does not count (ACR Appropriateness Criteria 2021).
    imaging_kinds=frozenset({"mri", "ct"}),
    imaging_months=6,
    # DOMAIN.md "Surgery referral": elective is premature with < 6 weeks of
    # documented conservative care (ACP 2017, payer fusion policies).
    conservative_care_weeks=6,
    # DOMAIN.md R4: a plan that recommends or offered a regenerative option (or a
    # biologic given) opens that door; "not_indicated" documents a judgement only.
    regenerative_doors=frozenset({"recommended", "offered_declined"}),
)


def feed_parameters(profile: str = PAYER_BLOCKS.name) -> FeedParameters:
    """The feed's parameters with the named block profile ("payer" or "nhs")."""
    return replace(FEED_V1, evidence=Evidence(block_profile(profile)))
