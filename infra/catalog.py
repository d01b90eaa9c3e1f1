"""The projection catalogue: every read model the service runs, and its view.

Adding a read model is one projection in `build_projections` and one typed view in
`Views`; the engine (infra.projection) never changes for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from infra.projection import ReadModels
from infra.settings import Settings
from infra.views.physician_feed import SqlPhysicianFeedView
from infra.views.quality_measures import SqlQualityMeasuresView
from infra.views.referral_audit import SqlReferralAuditView
from infra.views.worklist import SqlWorklistView
from projections.base import Projection, check_projection
from projections.physician_feed import (
    PhysicianFeedProjection,
    PhysicianFeedView,
    feed_parameters,
)
from projections.quality_measures import QualityMeasuresProjection, QualityMeasuresView
from projections.referral_audit import (
    ReferralAuditProjection,
    ReferralAuditView,
    audit_rules,
)
from projections.worklist import WorklistProjection, WorklistView, worklist_rules


def build_projections(settings: Settings) -> list[Projection]:
    """A fresh instance of each projection this deployment runs, configured."""
    projections: list[Projection] = [
        ReferralAuditProjection(audit_rules(settings.audit_block_profile)),
        WorklistProjection(worklist_rules(settings.audit_block_profile)),
        PhysicianFeedProjection(feed_parameters(settings.audit_block_profile)),
        QualityMeasuresProjection(),
    ]
    return [check_projection(p) for p in projections]


@dataclass(frozen=True)
class Views:
    """Each read model's questions, answered from its serving tables."""

    referral_audit: ReferralAuditView
    worklist: WorklistView
    physician_feed: PhysicianFeedView
    quality_measures: QualityMeasuresView

    @classmethod
    def build(cls, reads: ReadModels, projections: Sequence[Projection]) -> Views:
        """The views of these projections, on this process's read side."""
        named = {p.name: p for p in projections}
        audit = named[ReferralAuditProjection.name]
        assert isinstance(audit, ReferralAuditProjection)
        worklist = named[WorklistProjection.name]
        assert isinstance(worklist, WorklistProjection)
        measures = named[QualityMeasuresProjection.name]
        assert isinstance(measures, QualityMeasuresProjection)
        return cls(
            referral_audit=SqlReferralAuditView(reads, audit.rules),
            worklist=SqlWorklistView(reads, worklist.rules),
            physician_feed=SqlPhysicianFeedView(reads),
            quality_measures=SqlQualityMeasuresView(reads, measures.rules),
        )
