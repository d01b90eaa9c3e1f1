"""Episodes for the physician-feed integration tests, written through the application."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain import commands as cmd
from domain.application import CareEpisodes
from infra.projection import ReadModels
from projections.physician_feed import ITEMS, PhysicianFeedProjection
from tests.support import builders as b
from tests.support.fold import expected_views

DR_A = {"id": "dr-a", "name": "Dr A", "role": "primary_care"}
DR_B = {"id": "dr-b", "name": "Dr B", "role": "concierge"}
DR_S = {"id": "dr-s", "name": "Dr S", "role": "spine_surgery"}


def open_for(app: CareEpisodes, referrer: dict[str, str], patient: str) -> UUID:
    """An episode opened by `referrer` for `patient`; its id."""
    opening = cmd.OpenEpisode(
        occurred_at=b.at(0), **b.referral(referrer=referrer, patient_id=patient)
    )
    return app.handle(opening, actor=b.SERVICE).episode_id


def write(
    app: CareEpisodes,
    episode_id: UUID,
    command_type: type[cmd.EpisodeCommand],
    body: dict[str, Any],
    days: float = 1,
) -> int:
    """One command on an episode; its global position."""
    command = b.command(command_type, episode_id, body, days)
    return app.handle(command, actor=b.SERVICE).position


# Every event type but the opening referral, in an order an open episode takes.
PATHWAY: tuple[tuple[type[cmd.EpisodeCommand], Callable[..., dict[str, Any]]], ...] = (
    (cmd.ScreenRedFlags, b.screening),
    (cmd.RecordDiagnostic, b.mri),
    (cmd.RecordDiagnostic, b.medial_branch_block),
    (cmd.RecordOutcome, b.outcome),
    (cmd.RecordConservativeCare, b.conservative_care),
    (cmd.PlanTreatment, b.plan),
    (cmd.PerformIntervention, b.esi),
    (cmd.AdministerBiologic, b.prp),
    (cmd.RecordOutcome, lambda: b.outcome(score=Decimal(30))),
    (cmd.ReferToSurgery, b.surgery_referral),
    (cmd.SendConsultNote, b.consult_note),
    (cmd.AssignClinician, b.assignment),
)


def varied_history(app: CareEpisodes) -> None:
    """Three physicians' patients, interleaved, with every event type, a later
    referrer and a closed episode."""
    first = open_for(app, DR_A, "pt-a1")
    second = open_for(app, DR_B, "pt-b1")
    third = open_for(app, DR_A, "pt-a2")
    for step, (command_type, body) in enumerate(PATHWAY):
        for episode in (first, second, third):
            write(app, episode, command_type, body(), days=1 + step)
        if step == 4:
            referral = b.further_referral(referrer=DR_S)
            write(app, second, cmd.ReceiveReferral, referral, days=6)
    write(app, first, cmd.CloseEpisode, b.closure(), days=60)


def feed_of(reads: ReadModels, physician: str) -> list[dict[str, Any]]:
    """Every item of one physician, by seq, straight from the serving table."""
    rows = reads.rows(PhysicianFeedProjection.name, ITEMS.name)
    return sorted(
        (r for r in rows if r["physician_id"] == physician), key=lambda r: r["seq"]
    )


def actual_items(reads: ReadModels) -> list[dict[str, Any]]:
    """Every item row, ordered in Python (not by the database's collation)."""
    rows = reads.rows(PhysicianFeedProjection.name, ITEMS.name)
    return sorted(rows, key=lambda r: (r["physician_id"], r["seq"]))


def folded_items(app: CareEpisodes, projection: PhysicianFeedProjection) -> list[dict]:
    """Every item row a from-scratch fold of the store gives, ordered alike."""
    rows = expected_views(app, projection)[ITEMS.name]
    return sorted(rows, key=lambda r: (r["physician_id"], r["seq"]))
