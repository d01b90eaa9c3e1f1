"""In-memory episodes walked through the pathway, and their open tasks as the
worklist projection's fold (tests/support/fold.py) derives them."""

from __future__ import annotations

from typing import Any

from domain import commands as cmd
from domain.episode import CareEpisode
from projections.worklist import (
    COUNTS,
    TASKS,
    WorklistProjection,
    WorklistRules,
    worklist_rules,
)
from tests.support import builders as b
from tests.support.fold import project

Key = tuple[str, str]


class Walk:
    """One episode in memory: record commands, read its open tasks after each."""

    def __init__(self, rules: WorklistRules | None = None, **referral: Any) -> None:
        self.episode: CareEpisode = b.opened_episode(**referral)
        self.projection = WorklistProjection(rules or worklist_rules())

    def do(
        self,
        command_type: type[cmd.EpisodeCommand],
        body: dict[str, Any],
        days: float = 0,
        hours: float = 0,
    ) -> Walk:
        b.record(self.episode, command_type, body, days, hours)
        return self

    def views(self) -> dict[str, dict[tuple, dict[str, Any]]]:
        return project(self.projection, self.episode)

    def rows(self) -> dict[Key, dict[str, Any]]:
        """The open tasks' rows by (kind, point)."""
        return {(r["kind"], r["point"]): r for r in self.views()[TASKS.name].values()}

    def tasks(self) -> set[Key]:
        """The open tasks as (kind, point)."""
        return set(self.rows())

    def row(self, kind: str, point: str = "episode") -> dict[str, Any]:
        return self.rows()[(kind, point)]

    def counts(self) -> dict[tuple, int]:
        """The running totals by key, zero rows left out."""
        return {
            key: row["open"]
            for key, row in self.views()[COUNTS.name].items()
            if row["open"]
        }


def opening_tasks(referrer: str = "dr-pc-1") -> set[Key]:
    """What every episode opened by a primary-care referral starts with."""
    return {
        ("screening_due", "episode"),
        ("baseline_outcome_due", "episode"),
        ("consult_note_due", referrer),
    }


def treated() -> Walk:
    """A baseline on day 1, then PRP on day 10 (version 3)."""
    walk = Walk().do(cmd.RecordOutcome, b.outcome(), days=1)
    return walk.do(cmd.AdministerBiologic, b.prp(), days=10)
