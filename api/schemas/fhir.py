"""The bulk export manifest, and the checks of its kick-off parameters."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from api.errors import Problem
from infra.fhir.jobs import ExportJob
from projections.fhir_export import RESOURCE_TYPES


class ManifestFile(BaseModel):
    """One NDJSON file of a finished export."""

    type: str = Field(description="the FHIR resource type every line of it holds")
    url: str = Field(description="where to download it (with the same bearer token)")
    count: int = Field(description="resources in the file")


class ExportManifest(BaseModel):
    """A finished export (FHIR Bulk Data Access complete-status body)."""

    transactionTime: datetime = Field(
        description="the recorded time of the newest event the export holds: it "
        "holds every event up to it and none after"
    )
    request: str = Field(description="the kick-off request's URL")
    requiresAccessToken: bool = Field(
        description="always true: files need the bearer token of the kick-off"
    )
    output: list[ManifestFile]
    error: list[ManifestFile] = Field(
        description="always empty: an export that cannot finish fails as a whole"
    )

    @classmethod
    def of(cls, job: ExportJob, base: str) -> ExportManifest:
        """The manifest of a completed job, its URLs rooted at `base` (…/fhir)."""
        return cls(
            transactionTime=job.transaction_time,
            request=job.request,
            requiresAccessToken=True,
            output=[
                ManifestFile(
                    type=f.type,
                    url=f"{base}/$export-files/{job.id}/{f.type}.ndjson",
                    count=f.count,
                )
                for f in job.output
            ],
            error=[],
        )


def kickoff_problem(name: str, message: str, where: str = "query") -> Problem:
    """422 naming the kick-off parameter (or header) at fault."""
    return Problem(
        422,
        "invalid-request",
        "The request is invalid",
        f"{name}: {message}",
        errors=[{"field": name, "in": where, "message": message}],
    )


def parse_types(values: list[str] | None) -> tuple[str, ...]:
    """The resource types `_type` asks for (repeated or comma-separated); every type
    the export holds when absent; 422 naming any it does not hold."""
    if not values:
        return RESOURCE_TYPES
    asked = [t.strip() for value in values for t in value.split(",") if t.strip()]
    unknown = [t for t in asked if t not in RESOURCE_TYPES]
    if unknown or not asked:
        allowed = ", ".join(RESOURCE_TYPES)
        problem = kickoff_problem(
            "_type",
            f"{', '.join(unknown) or 'nothing'} is not exported; one of: {allowed}",
        )
        problem.extra["errors"][0]["allowed"] = list(RESOURCE_TYPES)
        raise problem
    return tuple(dict.fromkeys(asked))
