"""The projection engine and the read side of its views (DESIGN.md §2).

Write side: `Engine` (or `start_in_background` in embedded mode) keeps every
projection's generations up to date, batch by batch, exactly once. Read side:
`ReadModels` for view queries, `min_position` waits and status. `rebuild` builds
a new generation beside the serving one and switches to it.
"""

from infra.projection.background import EngineHandle, start_in_background
from infra.projection.engine import Engine, EngineOptions
from infra.projection.reads import ViewCursor
from infra.projection.readside import ReadModels
from infra.projection.rebuild import RebuildFailedError, rebuild, retry
from infra.projection.status import ProjectionStatus

__all__ = [
    "Engine",
    "EngineHandle",
    "EngineOptions",
    "ProjectionStatus",
    "ReadModels",
    "RebuildFailedError",
    "ViewCursor",
    "rebuild",
    "retry",
    "start_in_background",
]
