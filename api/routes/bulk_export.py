"""FHIR Bulk Data export (system level): kick-off, status, files, cancel.

GET /fhir/$export with `Prefer: respond-async` answers 202 and a status URL
(`Content-Location`); the status URL answers 202 with `X-Progress` until the job
is done, then 200 with the manifest; each NDJSON file is streamed from disk;
DELETE on the status URL cancels the job or releases its files. Auditors and
services only; a job's status and files only to the principal that asked for it.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse

from api.auth import require_role
from api.deps import ContainerDep, EpisodesDep, SettingsDep
from api.errors import Problem
from api.openapi import problem, problems
from api.routes.fhir import FHIR_NDJSON, fhir_base, fhir_response
from api.schemas.common import Instant
from api.schemas.fhir import ExportManifest, kickoff_problem, parse_types
from domain.values import PrincipalRole
from infra.fhir.bulk import cut_now, position_at
from infra.fhir.jobs import ExportJob
from infra.fhir.worker import job_directory
from infra.tokens import Principal

router = APIRouter(prefix="/fhir", tags=["fhir"])
BulkReader = Annotated[
    Principal,
    Depends(require_role(frozenset({PrincipalRole.AUDITOR, PrincipalRole.SERVICE}))),
]
# _since reaches back this far before the instant given: an event being written at
# an earlier export's transactionTime may carry a time a little before it.
SINCE_MARGIN = timedelta(seconds=5)
UNSUPPORTED = ("_elements", "_typeFilter", "patient", "includeAssociatedData")
NOT_FOUND = {404: "no such export job, or it was cancelled, deleted or has expired"}
JobId = Annotated[UUID, Path(description="the export job (from Content-Location)")]


def _not_found(job_id: UUID) -> Problem:
    return Problem(
        404,
        "export-not-found",
        "Export not found",
        f"no export {job_id}: unknown, cancelled, deleted or expired",
    )


def _own_job(container: Any, job_id: UUID, principal: Principal) -> ExportJob:
    job = container.interop.exports.get(job_id)
    # Another principal's job is as unknown as a job that never was.
    if job is None or job.principal_id != principal.id:
        raise _not_found(job_id)
    return job


@router.get(
    "/$export",
    status_code=202,
    response_class=Response,
    responses={
        202: {
            "description": "accepted: poll the `Content-Location` URL for progress "
            "and, when done, the manifest",
            "content": {"application/fhir+json": {"schema": {"type": "object"}}},
        },
        **problems(
            403,
            422,
            descriptions={
                422: "a parameter or header is wrong on its own: `_type` naming a "
                "resource type this export does not hold, `_since` not an instant "
                "with an offset, `_outputFormat` other than NDJSON, a parameter "
                "this server does not support, or no `Prefer: respond-async`",
            },
        ),
        429: problem(
            "this principal already has the most unfinished exports allowed "
            "(`CARE_EXPORT_MAX_JOBS`); retry after `Retry-After`"
        ),
    },
    summary="Start a bulk export",
)
def kick_off(
    request: Request,
    principal: BulkReader,
    container: ContainerDep,
    episodes: EpisodesDep,
    prefer: Annotated[
        str | None, Header(description="must include respond-async")
    ] = None,
    types: Annotated[
        list[str] | None,
        Query(
            alias="_type",
            description="comma-separated resource types (the parameter may repeat)",
        ),
    ] = None,
    since: Annotated[
        Instant | None,
        Query(
            alias="_since",
            description="only resources changed after this recorded instant",
        ),
    ] = None,
    output_format: Annotated[
        str | None,
        Query(alias="_outputFormat", description="application/fhir+ndjson (default)"),
    ] = None,
) -> Response:
    """Start a system-level export of every episode as NDJSON files, one per
    resource type (FHIR Bulk Data Access); answers 202 with the status URL."""
    unsupported = [name for name in UNSUPPORTED if name in request.query_params]
    if unsupported:
        raise kickoff_problem(unsupported[0], "this server does not support it")
    if "respond-async" not in (prefer or "").lower():
        raise kickoff_problem(
            "Prefer",
            "a bulk export is asynchronous: send Prefer: respond-async",
            "header",
        )
    if output_format not in (None, FHIR_NDJSON, "application/ndjson", "ndjson"):
        raise kickoff_problem("_outputFormat", "only application/fhir+ndjson is made")
    wanted = parse_types(types)
    settings = container.settings
    jobs = container.interop.exports
    if jobs.unfinished(principal.id) >= settings.export_max_jobs:
        raise Problem(
            429,
            "too-many-exports",
            "Too many exports",
            f"you already have {settings.export_max_jobs} unfinished export(s); "
            "wait for one to finish or cancel one",
            headers={"Retry-After": "10"},
        )
    now = datetime.now(UTC)
    cut = cut_now(episodes, now)
    since_position = (
        position_at(episodes, since - SINCE_MARGIN, cut.head) if since else 0
    )
    job = ExportJob(
        id=uuid4(),
        principal_id=principal.id,
        role=principal.role.value,
        request=str(request.url),
        types=wanted,
        since=since,
        since_position=since_position,
        head_position=cut.head,
        transaction_time=cut.transaction_time,
        created_at=now,
    )
    jobs.add(job)
    if container.interop.worker is not None:
        container.interop.worker.wake.set()
    status_url = f"{fhir_base(request)}/$export-status/{job.id}"
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "information",
                "code": "informational",
                "diagnostics": f"export {job.id} accepted; poll {status_url}",
            }
        ],
    }
    return fhir_response(outcome, 202, **{"Content-Location": status_url})


@router.get(
    "/$export-status/{job_id}",
    response_model=ExportManifest,
    responses={
        202: {
            "description": "in progress: `X-Progress` says how far, `Retry-After` "
            "when to ask again (no body)"
        },
        **problems(403, 404, descriptions=NOT_FOUND),
        500: problem("the export failed; `detail` says why (ask for a new one)"),
    },
    summary="Poll a bulk export",
)
def export_status(
    job_id: JobId,
    request: Request,
    principal: BulkReader,
    container: ContainerDep,
) -> Any:
    """The job's progress (202) until it is done, then its manifest (200): the
    transaction time, the request, and one NDJSON file per resource type."""
    job = _own_job(container, job_id, principal)
    if job.state in ("queued", "running"):
        progress = (
            f"{job.done} of {job.total} episodes"
            if job.state == "running"
            else "queued"
        )
        return Response(
            status_code=202, headers={"X-Progress": progress, "Retry-After": "1"}
        )
    if job.state == "failed":
        raise Problem(
            500, "export-failed", "The export failed", job.error or "unknown error"
        )
    if job.state != "completed":
        raise _not_found(job_id)
    manifest = ExportManifest.of(job, fhir_base(request))
    headers = {}
    if job.expires_at is not None:
        headers["Expires"] = format_datetime(job.expires_at, usegmt=True)
    return JSONResponse(manifest.model_dump(mode="json"), headers=headers)


@router.delete(
    "/$export-status/{job_id}",
    status_code=202,
    response_class=Response,
    responses={
        202: {
            "description": "cancelled, or its files released; polling now answers 404"
        },
        **problems(403, 404, descriptions=NOT_FOUND),
    },
    summary="Cancel a bulk export",
)
def cancel_export(
    job_id: JobId, principal: BulkReader, container: ContainerDep, settings: SettingsDep
) -> Response:
    """Cancel a queued or running export, or delete a finished one's files."""
    _own_job(container, job_id, principal)
    state = container.interop.exports.cancel(job_id, datetime.now(UTC))
    if state is None:
        raise _not_found(job_id)
    if state == "completed":
        shutil.rmtree(job_directory(settings, job_id), ignore_errors=True)
    return Response(status_code=202)


@router.get(
    "/$export-files/{job_id}/{file_name}",
    response_class=FileResponse,
    responses={
        200: {
            "description": "the NDJSON file: one resource a line",
            "content": {FHIR_NDJSON: {}},
        },
        **problems(
            403, 404, descriptions={404: "no such file in a finished export of yours"}
        ),
    },
    summary="Download a bulk export file",
)
def export_file(
    job_id: JobId,
    file_name: Annotated[str, Path(pattern=r"^[A-Za-z]{1,64}\.ndjson$")],
    principal: BulkReader,
    container: ContainerDep,
    settings: SettingsDep,
) -> FileResponse:
    """One NDJSON file of a finished export, streamed from disk; the download is in
    the access log with every episode the export holds."""
    job = _own_job(container, job_id, principal)
    kind = file_name.removesuffix(".ndjson")
    directory = job_directory(settings, job_id)
    path = directory / file_name
    if job.state != "completed" or kind not in {f.type for f in job.output}:
        raise Problem(404, "file-not-found", "File not found", f"no {file_name} here")
    if not path.is_file():
        raise _not_found(job_id)
    container.access_log.record(
        principal_id=principal.id,
        role=principal.role.value,
        action=f"GET /fhir/$export-files/{job_id}/{file_name}",
        episode_ids=_episodes(directory / "episodes.txt"),
        request_id=None,
        outcome="disclosed",
    )
    return FileResponse(path, media_type=FHIR_NDJSON)


def _episodes(listing: Any) -> list[UUID]:
    """The episodes an export holds (written beside its files, one id a line)."""
    with open(listing, encoding="utf-8") as lines:
        return [UUID(line.strip()) for line in lines if line.strip()]
