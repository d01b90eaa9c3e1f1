"""Every projection the service runs, in one list the engine and the API share."""

from __future__ import annotations

from projections.base import Projection
from projections.referral_audit import ReferralAuditProjection, audit_rules


def all_projections(block_profile: str = "payer") -> list[Projection]:
    """A fresh instance of each projection the service runs.

    `block_profile` picks the referral-loop audit's diagnostic-block thresholds
    ("payer" or "nhs"; Settings.audit_block_profile).
    """
    return [ReferralAuditProjection(audit_rules(block_profile))]
