"""The floor of the command path: a FastAPI app that takes the same request and
does nothing with it.

    python -m bench.noop_app --port P [--workers N]

It parses the same JSON body into a model and answers the shape of a command's
answer, with no store, auth or middleware. It is served the way `care-episodes
serve` serves the service (infra.cli.server when present, so both get the same
socket options), or by plain uvicorn where that module does not exist.
"""

from __future__ import annotations

import argparse
from typing import Any
from uuid import UUID

from fastapi import FastAPI, Response
from pydantic import BaseModel


class OutcomeBody(BaseModel):
    occurred_at: str
    instrument: str
    score: float
    follows_version: int | None = None


def create_app() -> FastAPI:
    """The no-op app: one command route and /readyz."""
    app = FastAPI()

    @app.post("/episodes/{episode_id}/outcomes", status_code=201)
    def outcome(episode_id: UUID, body: OutcomeBody, response: Response) -> Any:
        response.headers["ETag"] = '"2"'
        return {"episode_id": str(episode_id), "version": 2, "position": 1}

    @app.get("/readyz")
    def ready() -> dict[str, str]:
        return {"status": "ready"}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    try:
        from infra.cli.server import run_server
    except ImportError:  # a checkout from before the server module
        import uvicorn

        uvicorn.run(
            "bench.noop_app:create_app", factory=True, host="127.0.0.1",
            port=args.port, workers=args.workers, log_level="warning",
        )  # fmt: skip
        return
    run_server(
        "bench.noop_app:create_app", host="127.0.0.1", port=args.port,
        workers=args.workers, log_config=None,
    )  # fmt: skip


if __name__ == "__main__":
    main()
