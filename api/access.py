"""Disclosure of patient data: the scope check and the access-log entry, in one place.

Every route that returns patient data declares `Disclosure` and hands it what it is
about to return; the check (a physician sees only the episodes it referred) and the
log entry happen here, before the data leaves, so no route can forget either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated, TypeVar
from uuid import UUID

from fastapi import Depends, Request

from api.auth import Principal, Reader, forbidden
from api.context import current_request_id
from domain.errors import EpisodeNotFound
from domain.values import PrincipalRole
from infra.access_log import AccessLog

T = TypeVar("T")


class Disclosure:
    """What one request discloses, to whom; logged before it is returned."""

    def __init__(
        self,
        principal: Principal,
        action: str,
        log: AccessLog,
        referred: Callable[[UUID, str], bool] | None = None,
    ) -> None:
        self.principal = principal
        self.action = action
        self.log = log
        self.referred = referred

    @property
    def physician_scope(self) -> str | None:
        """The physician whose patients alone this caller may see (None: all)."""
        if self.principal.role is PrincipalRole.PHYSICIAN:
            return self.principal.physician_id
        return None

    def episode(
        self,
        episode_id: UUID,
        load: Callable[[], T],
        referrers_of: Callable[[T], Iterable[str]] | None = None,
    ) -> T:
        """Check this caller may see one episode's data, load it, log, and return it.

        A physician gets the same 403 for an episode that does not exist as for one
        it did not refer, and at the same cost: the episode index answers before
        anything of the episode is read, so the answer reveals nothing about other
        patients, not even by its timing.
        """
        scope = self.physician_scope
        known = self.referred
        if scope is not None and known is not None and not known(episode_id, scope):
            self._record([episode_id], "denied")
            raise forbidden()
        try:
            item = load()
        except EpisodeNotFound:
            if self.physician_scope is not None:
                self._record([episode_id], "denied")
                raise forbidden() from None
            self._record([episode_id], "not_found")
            raise
        if (
            scope is not None
            and referrers_of is not None
            and scope not in set(referrers_of(item))
        ):
            self._record([episode_id], "denied")
            raise forbidden()
        self._record([episode_id], "disclosed")
        return item

    def rows(self, episode_ids: Iterable[UUID]) -> None:
        """Log the episodes whose rows a list answer discloses (already scoped)."""
        self._record(list(episode_ids), "disclosed")

    def _record(self, episode_ids: list[UUID], outcome: str) -> None:
        self.log.record(
            principal_id=self.principal.id,
            role=self.principal.role.value,
            action=self.action,
            episode_ids=episode_ids,
            request_id=current_request_id(),
            outcome=outcome,
        )


async def disclosure(request: Request, principal: Reader) -> Disclosure:
    """The disclosure of the current request, named by its route template (a
    coroutine: it does no I/O, so it needs no thread of the pool)."""
    route = request.scope.get("route")
    path = getattr(route, "path", request.url.path)
    container = request.app.state.container
    return Disclosure(
        principal,
        f"{request.method} {path}",
        container.access_log,
        container.episodes.is_referrer,
    )


DisclosureDep = Annotated[Disclosure, Depends(disclosure)]
