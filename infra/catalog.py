"""The projection catalogue: every read model the service runs, and its view.

Adding a read model is one projection in `build_projections` and one typed view in
`Views`; the engine (infra.projection) never changes for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from infra.projection import ReadModels
from infra.settings import Settings
from infra.views.referral_audit import SqlReferralAuditView
from projections.base import Projection, check_projection
from projections.referral_audit import (
    ReferralAuditProjection,
    ReferralAuditView,
    audit_rules,
)


def build_projections(settings: Settings) -> list[Projection]:
    """A fresh instance of each projection this deployment runs, configured."""
    projections: list[Projection] = [
        ReferralAuditProjection(audit_rules(settings.audit_block_profile)),
    ]
    return [check_projection(p) for p in projections]


@dataclass(frozen=True)
class Views:
    """Each read model's questions, answered from its serving tables."""

    referral_audit: ReferralAuditView

    @classmethod
    def build(cls, reads: ReadModels, projections: Sequence[Projection]) -> Views:
        """The views of these projections, on this process's read side."""
        named = {p.name: p for p in projections}
        audit = named[ReferralAuditProjection.name]
        assert isinstance(audit, ReferralAuditProjection)
        return cls(referral_audit=SqlReferralAuditView(reads, audit.rules))
