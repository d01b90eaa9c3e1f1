"""A Provenance per event: who recorded it, when, what it made or changed, and for
an amendment, which event it amends and why."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from projections.fhir_export import references as r
from projections.fhir_export.codes import (
    DATA_OPERATION,
    PARTICIPANT_TYPE,
    coding,
    local_system,
)
from projections.fhir_export.mapped import Mapped, compact, instant
from projections.fhir_export.view import EpisodeView, Fact


def provenances(view: EpisodeView, mapped: Sequence[Mapped]) -> list[Mapped]:
    """One Provenance per event of the episode (amendments included), in version order."""
    targets: dict[int, list[dict[str, Any]]] = {}
    for item in mapped:
        for version in item.versions:
            targets.setdefault(version, []).append(r.ref(item.type, item.id))
    events: list[tuple[Fact, dict[str, Any]]] = [(f, {}) for f in view.facts]
    for fact, amendment in view.amendments.values():
        events.append(
            (
                fact,
                {
                    "amends": amendment.amends,
                    "reason": amendment.reason,
                    "fields": sorted(amendment.corrections),
                },
            )
        )
    found = [
        _provenance(view, fact, targets.get(fact.version, []), amends)
        for fact, amends in sorted(events, key=lambda e: e[0].version)
    ]
    return [p for p in found if p is not None]


def _provenance(
    view: EpisodeView,
    fact: Fact,
    targets: Iterable[dict[str, Any]],
    amends: dict[str, Any],
) -> Mapped | None:
    target = list(targets)
    if not target:
        # Provenance needs a target; every event shapes at least the episode or a
        # resource of its own, so this only guards an amendment of nothing mapped.
        target = [r.ref("EpisodeOfCare", str(view.episode_id))]
    resource: dict[str, Any] = {
        "resourceType": "Provenance",
        "id": r.resource_id(view.episode_id, fact.version),
        "target": target,
        "occurredDateTime": instant(fact.occurred_at),
        "recorded": instant(fact.recorded_at),
        "activity": {
            "coding": [
                coding(DATA_OPERATION, "UPDATE" if amends else "CREATE"),
            ],
            "text": f"{fact.type} (episode version {fact.version})",
        },
        "agent": [
            {
                "type": {"coding": [coding(PARTICIPANT_TYPE, "author", "Author")]},
                "role": [
                    {
                        "coding": [
                            coding(
                                local_system("principal-role"), fact.actor.role.value
                            )
                        ],
                        "text": fact.actor.role.value,
                    }
                ],
                "who": r.principal(fact.actor),
            }
        ],
    }
    if amends:
        amended = r.resource_id(view.episode_id, amends["amends"])
        fields = ", ".join(amends["fields"]) or "no field"
        resource["entity"] = [
            {
                "role": "revision",
                "what": {
                    **r.ref("Provenance", amended),
                    "display": f"amends episode version {amends['amends']} "
                    f"(corrects {fields})",
                },
            }
        ]
        if amends["reason"]:
            resource["reason"] = [{"text": amends["reason"]}]
    return Mapped(compact(resource), (fact.version,))
