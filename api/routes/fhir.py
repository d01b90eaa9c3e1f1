"""One episode as a FHIR R4 Bundle (type collection), with the same reads and access
rules as GET /episodes/{id}."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response

from api.access import DisclosureDep
from api.conditional import ConditionalDep
from api.deps import EpisodesDep
from api.episode_reads import AsOf, Version, episode_for_caller
from api.openapi import NOT_MODIFIED, problems
from projections.fhir_export import episode_bundle

router = APIRouter(tags=["fhir"])
FHIR_JSON = "application/fhir+json"
FHIR_NDJSON = "application/fhir+ndjson"


def fhir_base(request: Request) -> str:
    """The base URL FHIR fullUrls and file URLs are rooted at (…/fhir)."""
    return f"{str(request.base_url).rstrip('/')}/fhir"


def fhir_response(body: Any, status_code: int = 200, **headers: str) -> Response:
    """A FHIR JSON answer."""
    return Response(
        json.dumps(body, separators=(",", ":"), ensure_ascii=False),
        status_code=status_code,
        media_type=FHIR_JSON,
        headers=headers,
    )


@router.get(
    "/episodes/{episode_id}/fhir",
    response_class=Response,
    responses={
        200: {
            "description": "the episode as a FHIR R4 Bundle of type collection: "
            "EpisodeOfCare, ServiceRequest and Task per referral, Observation, "
            "DiagnosticReport, Procedure, MedicationAdministration, CarePlan, "
            "Communication, and a Provenance per event (docs/fhir.md)",
            "content": {FHIR_JSON: {"schema": {"type": "object"}}},
        },
        **NOT_MODIFIED,
        **problems(403, 404, 422),
    },
    summary="Read an episode as FHIR",
)
def get_episode_fhir(
    episode_id: UUID,
    request: Request,
    access: DisclosureDep,
    episodes: EpisodesDep,
    conditional: ConditionalDep,
    version: Version = None,
    as_of: AsOf = None,
) -> Response:
    """The episode now, at `version`, or as the store held it at `as_of`, as a FHIR
    R4 Bundle; logged and scoped as GET /episodes/{id} is (a physician reads only the
    episodes it referred). The `ETag` is the version shown."""
    reading = episode_for_caller(
        access, conditional, episodes, episode_id, version, as_of
    )
    return fhir_response(
        episode_bundle(reading, fhir_base(request)), ETag=f'"{reading.version}"'
    )
