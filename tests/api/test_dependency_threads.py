"""No request spends a thread-pool hop on a dependency that does no I/O.

FastAPI runs every plain-function dependency on its thread pool: a hand-off to a
worker thread and back per dependency per request (`run_in_threadpool` held 13 %
of a worker's samples under command load). The dependencies the API routes
declare are coroutines; only endpoints that read or write the store take a thread.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security.base import SecurityBase

from api.app import create_app
from infra.settings import Settings
from tests.support.http import write_tokens_file

# Dependencies that may stay plain functions, and why.
ALLOWED: dict[str, str] = {
    # The screens' session makes the cookie key file on first use.
    "current_session": "may write the screens' cookie key file",
    "dependency": "the screens' role check, after the session",
}


def _calls(dependant: Dependant) -> Iterator[tuple[str, Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            name = getattr(dependency.call, "__name__", repr(dependency.call))
            yield name, dependency.call
        yield from _calls(dependency)


def _routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, list[Any]]]:
    """Every API route under `routes` (included routers unfolded): its path and
    the calls of its dependencies, the including routers' own among them."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, list(_calls(route.dependant))
        elif hasattr(route, "original_router"):  # an included router (FastAPI 0.16x)
            context = route.include_context
            extra = [(getattr(d.dependency, "__name__", ""), d.dependency)
                     for d in context.dependencies]  # fmt: skip
            for path, calls in _routes(
                route.original_router.routes, prefix + context.prefix
            ):
                yield path, extra + calls


def _plain(call: Any) -> bool:
    if isinstance(call, SecurityBase):  # HTTPBearer & co: coroutine __call__
        return not inspect.iscoroutinefunction(type(call).__call__)
    return not inspect.iscoroutinefunction(call)


def _app(tmp_path: Path) -> Any:
    # The routes' declarations only: the app is never started, no store is opened.
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'care.db'}",
        auth_tokens_file=write_tokens_file(tmp_path / "tokens.json"),
    )
    return create_app(settings)


def test_api_route_dependencies_are_coroutines(tmp_path: Path) -> None:
    app = _app(tmp_path)
    routes = list(_routes(app.routes))
    assert len(routes) > 40
    offenders = {
        f"{path} {name}"
        for path, calls in routes
        for name, call in calls
        if _plain(call) and name not in ALLOWED
    }
    assert offenders == set()


def test_the_command_and_read_routes_take_no_allowed_exception(
    tmp_path: Path,
) -> None:
    app = _app(tmp_path)
    hot = [
        (path, calls)
        for path, calls in _routes(app.routes)
        if path.startswith(("/episodes", "/worklist", "/feeds", "/audit"))
        and "/replay" not in path
    ]
    assert len(hot) > 15
    for path, calls in hot:
        assert [name for name, call in calls if _plain(call)] == [], path
