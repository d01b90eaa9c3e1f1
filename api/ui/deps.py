"""What screen routes declare: the caller's disclosure, as the API's routes do."""

from __future__ import annotations

from typing import Annotated

from fastapi import Request

from api.access import Disclosure
from api.auth import READERS, STAFF
from api.ui.session import UiSession, require


def disclosure_of(request: Request, session: UiSession) -> Disclosure:
    """The shared scope check and access-log entry (api.access) for this screen
    request, named by its route template like an API request."""
    route = request.scope.get("route")
    path = getattr(route, "path", request.url.path)
    container = request.app.state.container
    return Disclosure(
        session.principal,
        f"{request.method} {path}",
        container.access_log,
        container.episodes.is_referrer,
    )


ReaderSession = Annotated[UiSession, require(READERS)]
StaffSession = Annotated[UiSession, require(STAFF)]
