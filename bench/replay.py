"""Reading long episodes: the head, a past version, an instant, and the history.

    python -m bench.replay [--backend postgres --backend sqlite]
        [--lengths 10 1000 10000] [--repeat 20] [--page 100]

For each backend, one store holding one episode of each length (an opening and
outcomes, decided by `CareEpisode` and saved in bulk). Per length, the median of
`--repeat` calls of: the episode at its head (`get_episode`), at half its length
(`version=`), as of an instant half-way through (`get_episode_as_of`), the
aggregate's load for a command (`repository.get`, without snapshots and with one
every 100 events: the decision state without the entries), the API body of
the head reading (`episode_public` and its JSON, as GET /episodes/{id} answers),
one history page (`history(after=..., limit=--page)` from the middle),
and the whole history paged through; then over HTTP, the service's app in
process: GET /episodes/{id} (200, the whole body) and the same GET revalidating
a current copy of the head and of version N/2 (`If-None-Match` with its ETag:
304, answered from the head's version without folding). Every figure is
printed with its ratio to the shortest episode's, measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from fastapi.testclient import TestClient

from api.app import create_app
from api.views import episode_public
from bench.command_path import TOKEN, tokens_file
from bench.support import BACKENDS, fresh_store, machine
from domain import commands as cmd
from domain.application import DECISIONS, CareEpisodes
from domain.episode import CareEpisode
from domain.values import Actor, Envelope, PrincipalRole
from infra.eventstore import build_application

ACTOR = Actor("svc-bench", PrincipalRole.SERVICE)
SAVE_EVERY = 500


def build_episode(app: CareEpisodes, length: int) -> tuple[UUID, datetime]:
    """An episode of `length` events; the instant half of them were stored by."""
    opened_at = datetime.now(UTC) - timedelta(days=400)
    episode_id = uuid4()
    opening = cmd.OpenEpisode(
        occurred_at=opened_at,
        patient_id=f"pt-replay-{length}",
        referrer={"id": "dr-pc-1", "name": "Dr P", "role": "primary_care"},
        receiving_service="pain_medicine",
        reason="low back pain",
    )
    episode = CareEpisode.open(episode_id, Envelope(ACTOR, datetime.now(UTC)), opening)
    halfway = datetime.now(UTC)
    for n in range(1, length):
        outcome = cmd.RecordOutcome(
            episode_id=episode_id,
            occurred_at=opened_at + timedelta(minutes=n),
            instrument="nrs_pain",
            score=Decimal(n % 11),
        )
        DECISIONS[cmd.RecordOutcome](
            episode, Envelope(ACTOR, datetime.now(UTC)), outcome
        )
        if len(episode.pending_events) >= SAVE_EVERY:
            app.record(episode)
        if n == length // 2:
            app.record(episode)
            halfway = datetime.now(UTC)
    app.record(episode)
    return episode_id, halfway


def median_ms(work: Callable[[], Any], repeat: int) -> float:
    work()  # warm: connections, caches of the first call
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def page_through(app: CareEpisodes, episode_id: UUID, page: int) -> int:
    after = pages = 0
    while entries := app.history(episode_id, after=after, limit=page):
        after = entries[-1].version
        pages += 1
    return pages


def measure(
    app: CareEpisodes,
    plain: CareEpisodes,
    episode_id: UUID,
    length: int,
    halfway: datetime,
    args: Any,
) -> dict[str, float]:
    repeat, page = args.repeat, args.page
    reading = app.get_episode(episode_id)
    figures = {
        "GET episode (head)": median_ms(lambda: app.get_episode(episode_id), repeat),
        "  its API body (model + JSON)": median_ms(
            lambda: episode_public(reading).model_dump_json(), repeat
        ),
        "at version N/2": median_ms(
            lambda: app.get_episode(episode_id, version=max(1, length // 2)), repeat
        ),
        "as of the N/2 instant": median_ms(
            lambda: app.get_episode_as_of(episode_id, halfway), repeat
        ),
        "aggregate load, no snapshots": median_ms(
            lambda: plain.repository.get(episode_id), repeat
        ),
        "aggregate load, snapshot every 100": median_ms(
            lambda: app.repository.get(episode_id), repeat
        ),
        f"one history page ({page})": median_ms(
            lambda: app.history(episode_id, after=length // 2, limit=page), repeat
        ),
    }
    figures["whole history, paged"] = median_ms(
        lambda: page_through(app, episode_id, page), max(3, repeat // 5)
    )
    return figures


def over_http(
    client: TestClient, episode_id: UUID, length: int, repeat: int
) -> dict[str, float]:
    """GET /episodes/{id} in full, and revalidating a copy that is current, of the
    head and of version N/2."""
    url = f"/episodes/{episode_id}"
    past = f"{url}?version={max(1, length // 2)}"
    auth = {"Authorization": f"Bearer {TOKEN}"}

    def tagged(at: str) -> dict[str, str]:
        full = client.get(at, headers=auth)
        assert full.status_code == 200, full.text
        return {**auth, "If-None-Match": full.headers["etag"]}

    current, current_past = tagged(url), tagged(past)

    def get(at: str, headers: dict[str, str], status: int) -> None:
        assert client.get(at, headers=headers).status_code == status

    return {
        "GET /episodes/{id} over HTTP": median_ms(lambda: get(url, auth, 200), repeat),
        "  revalidated (If-None-Match)": median_ms(
            lambda: get(url, current, 304), repeat
        ),
        "  version N/2 revalidated": median_ms(
            lambda: get(past, current_past, 304), repeat
        ),
    }


def run(backend: str, args: argparse.Namespace) -> None:
    print(f"\n{backend}: {machine()}", flush=True)
    with (
        fresh_store(backend, snapshot_every=100) as settings,
        build_application(settings) as app,
        build_application(settings.model_copy(update={"snapshot_every": 0})) as plain,
    ):
        for each in (app, plain):
            each.repository.cache = None  # every read replays (no aggregate cache)
        built = [(n, *build_episode(app, n)) for n in args.lengths]
        results = {n: measure(app, plain, e, n, half, args) for n, e, half in built}
        with tempfile.TemporaryDirectory() as directory:
            served = settings.model_copy(
                update={
                    "auth_tokens_file": tokens_file(Path(directory)),
                    "projections_in_process": False,
                }
            )
            with TestClient(create_app(served)) as client:
                for n, episode_id, _ in built:
                    results[n].update(over_http(client, episode_id, n, args.repeat))
    shortest = args.lengths[0]
    names = list(results[shortest])
    header = " | ".join(f"{n:>7,} ev" for n in args.lengths)
    print(f"  {'median ms':<30} | {header} | ratio {args.lengths[-1]:,} / {shortest:,}")
    for name in names:
        cells = " | ".join(f"{results[n][name]:8.2f}" for n in args.lengths)
        ratio = results[args.lengths[-1]][name] / results[shortest][name]
        print(f"  {name:<30} | {cells} | {ratio:7.1f}x", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", action="append", choices=BACKENDS)
    parser.add_argument("--lengths", type=int, nargs="+", default=[10, 1000, 10000])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--page", type=int, default=100)
    args = parser.parse_args()
    for backend in args.backend or BACKENDS:
        run(backend, args)


if __name__ == "__main__":
    main()
