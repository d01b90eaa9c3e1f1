"""The quality measures read model: LBP-IMG, FS-CHG, PROM-REG and ESI-RESP, explained.

Per episode (per repeated ESI session for ESI-RESP) and measure: in the
numerator, in the denominator only, excluded (which exclusion), not eligible
or pending, with the events that decided it. `imaging`, `function`,
`registry` and `injections` decide one measure each (DOMAIN.md "Quality
measures", thresholds in `parameters`); `projection` keeps the decisions as
rows, the cross-episode ones on the patient's key (`patient`); `report` adds
them up into rates; `view` is the questions the read model answers (SQL in
infra.views.quality_measures).
"""

from projections.quality_measures.decisions import (
    STATUSES,
    Decision,
    Status,
    Verdict,
)
from projections.quality_measures.parameters import (
    ESI_RESP,
    FS_CHG,
    LBP_IMG,
    MEASURES,
    PROM_REG,
    RULES_V1,
    Measure,
    MeasureRules,
    measure_id,
)
from projections.quality_measures.projection import QualityMeasuresProjection
from projections.quality_measures.report import (
    PERIODS,
    MeasureReport,
    MeasuresSummary,
    Rate,
    summarize,
)
from projections.quality_measures.tables import DECISIONS, ORDER, REFERRERS
from projections.quality_measures.view import (
    MeasureFilters,
    PageKey,
    QualityMeasuresView,
)

__all__ = [
    "DECISIONS",
    "ESI_RESP",
    "FS_CHG",
    "LBP_IMG",
    "MEASURES",
    "ORDER",
    "PERIODS",
    "PROM_REG",
    "REFERRERS",
    "RULES_V1",
    "STATUSES",
    "Decision",
    "Measure",
    "MeasureFilters",
    "MeasureReport",
    "MeasureRules",
    "MeasuresSummary",
    "PageKey",
    "QualityMeasuresProjection",
    "QualityMeasuresView",
    "Rate",
    "Status",
    "Verdict",
    "measure_id",
    "summarize",
]
