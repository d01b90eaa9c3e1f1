"""FHIR test helpers: demo pathways folded in memory, and Bundle validation with
fhir.resources (its R4B models: the nearest to R4 it ships) plus the required
value sets its models do not check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from domain import commands as cmd
from domain.application import DECISIONS
from domain.episode import CareEpisode
from domain.reading import EpisodeReading, read_episode
from domain.values import Envelope
from infra import demo

ANCHOR = datetime(2026, 1, 5, 8, tzinfo=UTC)

# R4 value sets of required binding strength, for the coded elements we fill.
REQUIRED: dict[str, dict[str, set[str]]] = {
    "EpisodeOfCare": {
        "status": {"planned", "waitlist", "active", "onhold", "finished", "cancelled"}
    },
    "ServiceRequest": {
        "status": {"draft", "active", "on-hold", "revoked", "completed", "unknown"},
        "intent": {"proposal", "plan", "directive", "order", "option"},
        "priority": {"routine", "urgent", "asap", "stat"},
    },
    "Task": {
        "status": {
            "draft", "requested", "received", "accepted", "rejected", "ready",
            "cancelled", "in-progress", "on-hold", "failed", "completed",
        },
        "intent": {"unknown", "proposal", "plan", "order", "option"},
    },
    "Observation": {
        "status": {"registered", "preliminary", "final", "amended", "corrected"}
    },
    "DiagnosticReport": {
        "status": {"registered", "partial", "preliminary", "final", "amended"}
    },
    "Procedure": {
        "status": {"preparation", "in-progress", "not-done", "on-hold", "completed"}
    },
    "MedicationAdministration": {
        "status": {"in-progress", "not-done", "on-hold", "completed", "stopped"}
    },
    "CarePlan": {
        "status": {"draft", "active", "on-hold", "revoked", "completed", "unknown"},
        "intent": {"proposal", "plan", "order", "option"},
    },
    "Communication": {
        "status": {"preparation", "in-progress", "not-done", "completed", "stopped"}
    },
}  # fmt: skip
ENTITY_ROLES = {"derivation", "revision", "quotation", "source", "removal"}


def demo_plan(pathway: str, seed: int = 7) -> demo.Plan:
    """The first demo episode of `pathway` (infra.demo) for this seed."""
    return next(
        p
        for p in demo.plans(300, seed, anchor=ANCHOR, span_days=100)
        if p.pathway == pathway
    )


def fold(plan: demo.Plan) -> EpisodeReading:
    """A demo episode decided in memory and read as a reader sees it."""
    opening = plan.steps[0][2]
    episode = CareEpisode.open(
        plan.episode_id,
        Envelope(demo.LOADER, ANCHOR + timedelta(days=400)),
        cmd.OpenEpisode(occurred_at=plan.opened_at, **opening),
    )
    for days, command_type, fields in plan.steps[1:]:
        when = plan.opened_at + timedelta(days=days)
        DECISIONS[command_type](
            episode,
            Envelope(demo.LOADER, when),
            command_type(episode_id=episode.id, occurred_at=when, **fields),
        )
    return read_episode(episode.pending_events)  # type: ignore[arg-type]


def validate_resource(resource: dict[str, Any]) -> None:
    """The resource parses as its R4B model, and its codes of required binding
    are in their value sets."""
    kind = resource["resourceType"]
    get_fhir_model_class(kind).model_validate(resource)
    for element, allowed in REQUIRED.get(kind, {}).items():
        if element in resource:
            assert resource[element] in allowed, (kind, element, resource[element])
    for history in resource.get("statusHistory", []):
        assert history["status"] in REQUIRED["EpisodeOfCare"]["status"]
    for entity in resource.get("entity", []):
        assert entity["role"] in ENTITY_ROLES


def validate_bundle(bundle: dict[str, Any]) -> None:
    """A valid R4B Bundle of type collection whose every resource validates and
    whose every relative reference resolves to one of its entries."""
    Bundle.model_validate(bundle)
    assert bundle["type"] == "collection"
    present = {
        f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in bundle["entry"]
    }
    assert len(present) == len(bundle["entry"]), "an entry appears twice"
    for entry in bundle["entry"]:
        validate_resource(entry["resource"])
        for reference in references(entry["resource"]):
            assert reference in present, (entry["resource"]["id"], reference)


def references(value: Any) -> list[str]:
    """Every literal relative reference inside a resource (contained ones aside)."""
    found: list[str] = []
    if isinstance(value, dict):
        ref = value.get("reference")
        if isinstance(ref, str) and not ref.startswith("#"):
            found.append(ref)
        for key, inner in value.items():
            if key != "contained":
                found.extend(references(inner))
    elif isinstance(value, list):
        for inner in value:
            found.extend(references(inner))
    return found
