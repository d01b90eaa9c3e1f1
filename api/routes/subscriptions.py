"""Webhook subscriptions: a physician's feed pushed to an endpoint, signed (docs/webhooks.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import quote
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Path, Response

from api.access import DisclosureDep
from api.auth import Reader, require_role
from api.deps import ContainerDep
from api.errors import Problem
from api.openapi import problems
from api.paging import decode_int_cursor
from api.routes.feeds import PhysicianId, check_scope
from api.schemas.feeds import CURSOR
from api.schemas.subscriptions import (
    SubscriptionCreate,
    SubscriptionPublic,
    SubscriptionsPublic,
)
from domain.values import PrincipalRole
from infra.tokens import Principal
from infra.webhooks.endpoints import endpoint_problem
from infra.webhooks.subscriptions import Subscription

router = APIRouter(prefix="/physicians", tags=["physician feed"])
# The physician itself, or a service that integrates its systems.
Subscriber = Annotated[
    Principal,
    Depends(require_role(frozenset({PrincipalRole.PHYSICIAN, PrincipalRole.SERVICE}))),
]
SubscriptionId = Annotated[UUID, Path(description="the subscription")]
NOT_YOURS = {403: "your role may not do this, or it is another physician's feed"}
NOT_FOUND = {404: "no such subscription of this physician"}


def _found(container: ContainerDep, physician_id: str, sub_id: UUID) -> Subscription:
    sub = container.interop.subscriptions.get(sub_id)
    if sub is None or sub.physician_id != physician_id:
        raise Problem(
            404,
            "subscription-not-found",
            "Subscription not found",
            f"physician {physician_id} has no subscription {sub_id}",
        )
    return sub


@router.post(
    "/{physician_id}/subscriptions",
    status_code=201,
    responses=problems(403, 422, descriptions=NOT_YOURS),
    summary="Subscribe to a physician's feed",
)
def create_subscription(
    physician_id: PhysicianId,
    body: SubscriptionCreate,
    _principal: Subscriber,
    access: DisclosureDep,
    container: ContainerDep,
    response: Response,
) -> SubscriptionPublic:
    """Push each new item of this physician's feed to `endpoint` as a signed POST
    (Standard Webhooks), in order, retried with backoff until acknowledged."""
    check_scope(access, physician_id)
    settings = container.settings
    problem = endpoint_problem(
        body.endpoint, allow_loopback_http=settings.webhook_allow_loopback_http
    )
    if problem is not None:
        raise Problem(
            422,
            "invalid-request",
            "The request is invalid",
            f"endpoint: {problem}",
            errors=[{"field": "endpoint", "in": "body", "message": problem}],
        )
    outbox = container.interop.outbox
    if body.after is None:
        cursor = outbox.end(physician_id)
    else:
        cursor = outbox.at(physician_id, decode_int_cursor(CURSOR, body.after) or 0)
    principal = access.principal
    now = datetime.now(UTC)
    sub = Subscription(
        id=uuid4(),
        physician_id=physician_id,
        endpoint=body.endpoint,
        secret=body.secret,
        types=tuple(t.value for t in body.types),
        status="active",
        created_by=principal.id,
        created_role=principal.role.value,
        created_at=now,
        cursor=cursor,
        next_attempt_at=now,
    )
    container.interop.subscriptions.add(sub)
    # A header is ASCII: an id like "dr-müller" goes percent-encoded (else a 500).
    owner = quote(physician_id, safe="")
    response.headers["Location"] = f"/physicians/{owner}/subscriptions/{sub.id}"
    return SubscriptionPublic.of(sub)


@router.get(
    "/{physician_id}/subscriptions",
    responses=problems(403, 422, descriptions=NOT_YOURS),
    summary="List a physician's subscriptions",
)
def list_subscriptions(
    physician_id: PhysicianId,
    _reader: Reader,
    access: DisclosureDep,
    container: ContainerDep,
) -> SubscriptionsPublic:
    """Each subscription with its status (active or paused), the cursor of the last
    item acknowledged, deliveries and failures."""
    check_scope(access, physician_id)
    subs = container.interop.subscriptions.of_physician(physician_id)
    return SubscriptionsPublic(items=[SubscriptionPublic.of(s) for s in subs])


@router.post(
    "/{physician_id}/subscriptions/{subscription_id}/resume",
    responses=problems(403, 404, 422, descriptions={**NOT_YOURS, **NOT_FOUND}),
    summary="Resume a paused subscription",
)
def resume_subscription(
    physician_id: PhysicianId,
    subscription_id: SubscriptionId,
    _principal: Subscriber,
    access: DisclosureDep,
    container: ContainerDep,
) -> SubscriptionPublic:
    """Make a paused subscription active again: delivery resumes after the last
    acknowledged item, at once."""
    check_scope(access, physician_id)
    _found(container, physician_id, subscription_id)
    container.interop.subscriptions.resume(subscription_id, datetime.now(UTC))
    return SubscriptionPublic.of(_found(container, physician_id, subscription_id))


@router.delete(
    "/{physician_id}/subscriptions/{subscription_id}",
    status_code=204,
    response_class=Response,
    responses=problems(403, 404, 422, descriptions={**NOT_YOURS, **NOT_FOUND}),
    summary="Delete a subscription",
)
def delete_subscription(
    physician_id: PhysicianId,
    subscription_id: SubscriptionId,
    _principal: Subscriber,
    access: DisclosureDep,
    container: ContainerDep,
) -> Response:
    """Stop pushing to this endpoint (nothing more is sent)."""
    check_scope(access, physician_id)
    _found(container, physician_id, subscription_id)
    container.interop.subscriptions.remove(subscription_id)
    return Response(status_code=204)
