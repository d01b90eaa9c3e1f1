"""Command bodies for tests: sensible clinical defaults, overridable per test."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

from domain.episode import CareEpisode
from domain.events import EpisodeEvent
from domain.values import Actor, Envelope, PrincipalRole
from projections.base import Change, Projection, Put, State

__all__ = ["Envelope"]

# Clinic time starts here; every test event happens days after it, in the past.
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SERVICE = Actor("svc-intake", PrincipalRole.SERVICE)
CLINICIAN = Actor("clin-ana", PrincipalRole.CLINICIAN)


def at(days: float = 0, hours: float = 0) -> datetime:
    """A clinical time `days` (and `hours`) after T0."""
    return T0 + timedelta(days=days, hours=hours)


def envelope(
    occurred_at: datetime | None = None,
    *,
    actor: Actor = SERVICE,
    now: datetime | None = None,
) -> Envelope:
    return Envelope(
        actor=actor,
        occurred_at=occurred_at or at(0),
        now=now or datetime.now(UTC),
    )


def referral(**overrides: Any) -> dict[str, Any]:
    """POST /episodes: primary care sends a radicular patient to a surgeon."""
    return {
        "patient_id": "pt-0001",
        "referrer": {"id": "dr-pc-1", "name": "Dr Primary", "role": "primary_care"},
        "receiving_service": "spine_surgery",
        "reason": "low back pain with left leg pain for 10 weeks",
        "presentation": "radicular",
        "symptom_onset": date(2025, 12, 20),
        "insurance_mandated": False,
        "red_flags": [],
        **overrides,
    }


def further_referral(**overrides: Any) -> dict[str, Any]:
    return {
        "referrer": {"id": "dr-ss-1", "name": "Dr Surgeon", "role": "spine_surgery"},
        "receiving_service": "pain_medicine",
        "reason": "insurer requires epidural injections before surgery",
        **overrides,
    }


def screening(**overrides: Any) -> dict[str, Any]:
    return {"flags": [], "disposition": "none", **overrides}


def mri(**overrides: Any) -> dict[str, Any]:
    return {
        "kind": "mri",
        "region": "lumbar",
        "levels": ["L4-L5"],
        "relief_percent": None,
        "findings": "facet arthropathy L4-L5, no stenosis",
        "pain_generator": None,
        **overrides,
    }


def medial_branch_block(relief: int = 85, **overrides: Any) -> dict[str, Any]:
    return {
        "kind": "medial_branch_block",
        "region": "lumbar",
        "levels": ["L4-L5"],
        "relief_percent": relief,
        "findings": f"{relief}% relief for 6 hours",
        "pain_generator": "facet",
        **overrides,
    }


def conservative_care(**overrides: Any) -> dict[str, Any]:
    return {
        "modality": "physical_therapy",
        "started_on": date(2026, 3, 3),
        "ended_on": date(2026, 4, 14),
        "sessions": 12,
        "response": "improved",
        **overrides,
    }


def plan(**overrides: Any) -> dict[str, Any]:
    return {
        "items": [{"kind": "biologic", "detail": "PRP to L4-L5 facets"}],
        "goals": "ODI below 20 and return to work",
        "regenerative_option": "recommended",
        **overrides,
    }


def esi(**overrides: Any) -> dict[str, Any]:
    return {
        "procedure": "epidural_steroid_injection",
        "region": "lumbar",
        "levels": ["L5-S1"],
        "side": "left",
        "image_guided": True,
        **overrides,
    }


def prp(**overrides: Any) -> dict[str, Any]:
    return {
        "product": "prp",
        "target": "L4-L5 facet joints",
        "levels": ["L4-L5"],
        "volume_ml": Decimal("4.5"),
        "lot_number": "PRP-2026-0412",
        "image_guided": True,
        **overrides,
    }


def outcome(**overrides: Any) -> dict[str, Any]:
    return {
        "instrument": "odi",
        "score": Decimal(46),
        "follows_version": None,
        **overrides,
    }


def surgery_referral(**overrides: Any) -> dict[str, Any]:
    return {
        "surgeon": {"id": "dr-ss-1", "name": "Dr Surgeon"},
        "urgency": "elective",
        "intent": "fusion",
        "indication": "failed_conservative_care",
        "justification": "persistent pain after ESIs; patient requests surgical opinion",
        **overrides,
    }


def consult_note(**overrides: Any) -> dict[str, Any]:
    return {
        "to_physician_id": "dr-pc-1",
        "summary": "facet pain confirmed by blocks; PRP planned",
        **overrides,
    }


def assignment(**overrides: Any) -> dict[str, Any]:
    return {"clinician_id": "clin-ana", "clinician_name": "Ana Clinician", **overrides}


def closure(**overrides: Any) -> dict[str, Any]:
    return {"reason": "resolved", **overrides}


# Every command after the opening one: (aggregate/application method, body builder,
# the event it records).
COMMANDS = [
    ("receive_referral", further_referral, "ReferralReceived"),
    ("screen_red_flags", screening, "RedFlagsScreened"),
    ("record_diagnostic", mri, "DiagnosticCompleted"),
    ("record_conservative_care", conservative_care, "ConservativeCareRecorded"),
    ("plan_treatment", plan, "TreatmentPlanned"),
    ("perform_intervention", esi, "InterventionPerformed"),
    ("administer_biologic", prp, "BiologicAdministered"),
    ("record_outcome", outcome, "OutcomeRecorded"),
    ("refer_to_surgery", surgery_referral, "SurgeryReferred"),
    ("send_consult_note", consult_note, "ConsultNoteSent"),
    ("assign_clinician", assignment, "ClinicianAssigned"),
    ("close", closure, "EpisodeClosed"),
]


def rfa(**overrides: Any) -> dict[str, Any]:
    """POST /interventions: radiofrequency ablation of the L4-L5 medial branches."""
    return esi(
        **{
            "procedure": "radiofrequency_ablation",
            "levels": ["L4-L5"],
            "side": "bilateral",
            **overrides,
        }
    )


def opened_episode(**overrides: Any) -> CareEpisode:
    """An episode opened at T0 by `referral(**overrides)`."""
    return CareEpisode.open(
        uuid4(), envelope(at(0), now=at(0)), **referral(**overrides)
    )


def record(
    episode: CareEpisode, command: str, body: dict, days: float = 0, hours: float = 0
) -> CareEpisode:
    """Run `command` at clinical time at(days, hours), whatever today's date is."""
    when = at(days, hours)
    getattr(episode, command)(envelope(when, now=when), **body)
    return episode


def handle_all(
    projection: Projection,
    events: Iterable[EpisodeEvent],
    state: State | None = None,
    first_position: int = 1,
) -> tuple[State | None, list[Change]]:
    """One episode's events through a projection's handler: last state, every change."""
    changes: list[Change] = []
    for position, event in enumerate(events, start=first_position):
        if type(event).__name__ in projection.handles:
            handled = projection.handle(state, event, position)
            state = handled.state
            changes.extend(handled.changes)
    return state, changes


def apply_changes(
    views: dict[str, dict[tuple, dict]],
    projection: Projection,
    changes: Iterable[Change],
) -> dict[str, dict[tuple, dict]]:
    """Apply view changes to in-memory tables, keyed as the projection declares them."""
    tables = {table.name: table for table in projection.tables}
    for change in changes:
        rows = views.setdefault(change.table, {})
        if isinstance(change, Put):
            key = tuple(change.row[name] for name in tables[change.table].key)
            rows[key] = dict(change.row)
        else:
            for key, row in list(rows.items()):
                if all(row[name] == value for name, value in change.match.items()):
                    del rows[key]
    return views


def project(
    projection: Projection, *episodes: CareEpisode
) -> dict[str, dict[tuple, dict]]:
    """In-memory views after each episode's uncollected events ran through a projection."""
    views: dict[str, dict[tuple, dict]] = {
        table.name: {} for table in projection.tables
    }
    position = 1
    for episode in episodes:
        events = list(episode.pending_events)
        _, changes = handle_all(projection, events, first_position=position)
        apply_changes(views, projection, changes)
        position += len(events)
    return views
