"""A patient's rights: the accounting of disclosures, and erasure (auditors only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.auth import Auditor
from api.deps import AccessLogDep, ContainerDep
from api.errors import Problem
from api.openapi import problems
from api.paging import After, Limit, decode_int_cursor, encode_cursor
from api.schemas.common import Identifier, Instant, Text
from domain.values import PrincipalRole
from infra.access_log import AccessEntry
from infra.disclosures import PURPOSES, PURPOSES_BY_ROLE, disclosures_of
from infra.erasure import erase_patient
from infra.tokens import TokenRegistry

router = APIRouter(prefix="/patients", tags=["privacy"])


class DisclosurePublic(BaseModel):
    """One disclosure of the patient's data: who, when, what and why."""

    at: datetime
    principal_id: str = Field(description="who the data was disclosed to")
    role: str
    action: str = Field(description="what was read: the method and route")
    episode_ids: list[UUID] = Field(description="which of the patient's episodes")
    purpose: str = Field(description="why, from the reader's role: " + PURPOSES)
    request_id: str | None


class DisclosuresPage(BaseModel):
    """A page of a patient's disclosures, newest first."""

    patient_id: str
    items: list[DisclosurePublic]
    next_cursor: str | None


class ErasureCreate(BaseModel):
    """Why the patient's data is erased."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"reason": "GDPR Art. 17 request of 2026-03-02, ref. 4411"}]
        }
    )

    reason: Text = Field(description="the request or ground for the erasure")


class ErasurePublic(BaseModel):
    """What an erasure did (the events stay; their payloads can no longer be read)."""

    erasure_id: UUID
    at: datetime
    patient_id: str
    episodes: list[UUID]
    data_keys: int
    requested_by: str
    approved_by: str


@router.get(
    "/{patient_id}/disclosures",
    responses=problems(403, 422),
    summary="Account for a patient's disclosures",
)
def get_disclosures(
    patient_id: Identifier,
    _auditor: Auditor,
    container: ContainerDep,
    log: AccessLogDep,
    since: Annotated[Instant | None, Query(description="at or after")] = None,
    after: After = None,
    limit: Limit = 100,
) -> DisclosuresPage:
    """Every read of the patient's episodes that disclosed their data (HIPAA
    164.528): who, when, what and why, newest first (auditors only). Refused
    attempts are in the access log, not here."""
    entries = disclosures_of(
        container.index,
        log,
        patient_id,
        since=since,
        before_id=decode_int_cursor("disclosure", after),
        limit=limit + 1,
    )
    page = entries[:limit]
    return DisclosuresPage(
        patient_id=patient_id,
        items=[_public(entry) for entry in page],
        next_cursor=encode_cursor("disclosure", page[-1].id)
        if len(entries) > limit
        else None,
    )


@router.post(
    "/{patient_id}/erasure",
    status_code=202,
    responses=problems(401, 403, 404, 409, 422),
    summary="Erase a patient's data",
)
async def post_erasure(
    patient_id: Identifier,
    body: ErasureCreate,
    auditor: Auditor,
    container: ContainerDep,
    request: Request,
    approval: Annotated[
        str | None,
        Header(
            alias="Approval",
            description="`Bearer <token>` of a second auditor who approves it",
        ),
    ] = None,
) -> ErasurePublic:
    """Crypto-shred the patient: every data key of theirs is deleted, so their
    events stay (and verify) but can no longer be read; reads answer 410 and the
    read models drop their rows. An auditor asks, and a second auditor approves
    in the same request (`Approval: Bearer <their token>`)."""
    registry: TokenRegistry = request.app.state.tokens
    scheme, _, token = (approval or "").partition(" ")
    approver = (
        registry.authenticate(token.strip()) if scheme.lower() == "bearer" else None
    )
    if approver is None or approver.role is not PrincipalRole.AUDITOR:
        raise Problem(
            403,
            "approval-required",
            "A second auditor must approve",
            "send Approval: Bearer <token> of a second auditor",
        )
    if approver.id == auditor.id:
        raise Problem(
            403,
            "approval-required",
            "A second auditor must approve",
            "the approver must be another auditor than the requester",
        )
    done = await run_in_threadpool(
        erase_patient,
        container.episodes,
        patient_id,
        requested_by=auditor.actor,
        approved_by=approver.id,
        reason=body.reason,
    )
    return ErasurePublic(
        erasure_id=done.erasure_id,
        at=done.at,
        patient_id=patient_id,
        episodes=done.episodes,
        data_keys=done.data_keys,
        requested_by=done.requested_by,
        approved_by=done.approved_by,
    )


def _public(entry: AccessEntry) -> DisclosurePublic:
    return DisclosurePublic(
        at=entry.at,
        principal_id=entry.principal_id,
        role=entry.role,
        action=entry.action,
        episode_ids=entry.episode_ids,
        purpose=PURPOSES_BY_ROLE.get(entry.role, "health care operations"),
        request_id=entry.request_id,
    )
