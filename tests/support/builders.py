"""Command bodies for tests (sensible clinical defaults, overridable per test), and
in-memory episodes driven by typed commands."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from domain import commands as cmd
from domain.application import DECISIONS
from domain.episode import CareEpisode
from domain.reading import EpisodeReading, read_episode
from domain.values import Actor, Envelope, PrincipalRole

# Clinic time starts here; every test event happens days after it, in the past.
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SERVICE = Actor("svc-intake", PrincipalRole.SERVICE)
CLINICIAN = Actor("clin-ana", PrincipalRole.CLINICIAN)


def at(days: float = 0, hours: float = 0) -> datetime:
    """A clinical time `days` (and `hours`) after T0."""
    return T0 + timedelta(days=days, hours=hours)


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
    """An episode opened at T0 by `referral(**overrides)`, in memory."""
    opening = cmd.OpenEpisode(occurred_at=at(0), **referral(**overrides))
    return CareEpisode.open(uuid4(), Envelope(SERVICE, now=at(0)), opening)


def command(
    command_type: type[cmd.EpisodeCommand],
    episode_id: UUID,
    body: dict[str, Any],
    days: float = 0,
    hours: float = 0,
) -> cmd.EpisodeCommand:
    """A typed command on an episode, at clinical time at(days, hours)."""
    return command_type(episode_id=episode_id, occurred_at=at(days, hours), **body)


def record(
    episode: CareEpisode,
    command_type: type[cmd.EpisodeCommand],
    body: dict[str, Any],
    days: float = 0,
    hours: float = 0,
    *,
    actor: Actor = SERVICE,
) -> CareEpisode:
    """Decide a command on an in-memory episode at clinical time at(days, hours),
    whatever today's date is."""
    when = at(days, hours)
    decide = DECISIONS[command_type]
    decide(
        episode,
        Envelope(actor, now=when),
        command(command_type, episode.id, body, days, hours),
    )
    return episode


def read(episode: CareEpisode) -> EpisodeReading:
    """The in-memory episode as a reader sees it (a fold of its uncollected events)."""
    return read_episode(episode.pending_events)  # type: ignore[arg-type]
