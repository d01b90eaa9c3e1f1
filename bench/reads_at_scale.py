"""Reads at scale: a physician's feed page and episode search, small store vs large.

    python -m bench.reads_at_scale [--events 10000 100000] [--backend postgres]
        [--calls 200]

For each size, a copy of the prepared demo store (bench.demo_store, kept for
reuse), the physician feed caught up by the engine (and, on PostgreSQL,
`ANALYZE`, as autovacuum would), then each read timed over `--calls` calls
(after 5 warm-up calls), the two sizes' calls taking turns so that the load of
the shared machine weighs on both alike: the busiest physician's first feed
page and a page from the middle of their feed (`SqlPhysicianFeedView.page`,
50 items), and `EpisodeIndex.search` (50 episodes): the first page, a page from
the middle (keyset), open episodes, the episodes of the referrer with the
fewest, and one patient's.
Prints p50/p99 per size and the p99 ratio large / small (target: at most 2x),
and on PostgreSQL the plan of each query at the large size (EXPLAIN ANALYZE).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from typing import Any

from bench.demo_store import prepare
from bench.support import fresh_store, machine, p50_p99
from infra.bootstrap import Container, bootstrap
from infra.catalog import build_projections
from infra.database import Database
from infra.episode_index import EpisodeFilters, EpisodeIndex
from infra.projection import Engine, EngineOptions
from infra.views.physician_feed import NAME as FEED
from infra.views.physician_feed import SqlPhysicianFeedView

PAGE = 50


@dataclass
class Store:
    """One size's store, open, with what its reads need."""

    events: int
    container: Container
    feed: SqlPhysicianFeedView
    index: EpisodeIndex
    physician: str
    middle_seq: int
    middle_key: Any
    status: str
    referrer: str
    patient: str


@contextmanager
def opened(backend: str, events: int) -> Iterator[Store]:
    made = prepare(backend, events)
    with (
        fresh_store(backend, template=made.name) as settings,
        closing(bootstrap(settings)) as container,
    ):
        feed_only = [p for p in build_projections(settings) if p.name == FEED]
        started = time.perf_counter()
        engine = Engine(container.episodes, settings, feed_only, EngineOptions())
        engine.catch_up()
        engine.close()
        print(
            f"  {made.events:,} events ({made.episodes:,} episodes): feed caught "
            f"up in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        db = Database(container.episodes)
        if db.dialect.name == "postgres":
            with db.writing() as cur:
                cur.execute("ANALYZE")
        rm = container.read_models
        busiest = rm.query(
            FEED,
            "SELECT physician_id, COUNT(*) AS n FROM {items} "
            "GROUP BY physician_id ORDER BY n DESC, physician_id LIMIT 1",
        )[0]
        with db.reading() as cur:
            referrer = cur.execute(
                "SELECT referrer_id, COUNT(*) AS n FROM episode_referrers "
                "GROUP BY referrer_id ORDER BY n, referrer_id LIMIT 1"
            ).fetchone()["referrer_id"]
            patient = cur.execute(
                "SELECT patient_id FROM episode_index ORDER BY opened_at, "
                "episode_id LIMIT 1"
            ).fetchone()["patient_id"]
        index = EpisodeIndex(db)
        _, key = index.search(EpisodeFilters(), None, made.episodes // 2)
        yield Store(
            events=made.events,
            container=container,
            feed=SqlPhysicianFeedView(rm),
            index=index,
            physician=busiest["physician_id"],
            middle_seq=int(busiest["n"]) // 2,
            middle_key=key,
            status="open",
            referrer=referrer,
            patient=patient,
        )


def reads(store: Store) -> dict[str, Callable[[], Any]]:
    s = store
    return {
        "feed, first page": lambda: s.feed.page(s.physician, None, PAGE),
        "feed, a middle page": lambda: s.feed.page(s.physician, s.middle_seq, PAGE),
        "search, first page": lambda: s.index.search(EpisodeFilters(), None, PAGE),
        "search, a middle page": lambda: s.index.search(
            EpisodeFilters(), s.middle_key, PAGE
        ),
        "search, open episodes": lambda: s.index.search(
            EpisodeFilters(status=s.status), None, PAGE
        ),
        "search, one referrer": lambda: s.index.search(
            EpisodeFilters(referrer_id=s.referrer), None, PAGE
        ),
        "search, one patient": lambda: s.index.search(
            EpisodeFilters(patient_id=s.patient), None, PAGE
        ),
    }


def plans(store: Store) -> None:
    """EXPLAIN ANALYZE of each read's SQL, as the code sends it (PostgreSQL)."""
    s = store
    search = (
        "SELECT e.* FROM episode_index e {where}ORDER BY e.opened_at, e.episode_id "
        "LIMIT 51"
    )
    referred = (
        "SELECT e.* FROM episode_referrers k JOIN episode_index e ON e.episode_id = "
        "k.episode_id WHERE k.referrer_id = ? ORDER BY k.opened_at, k.episode_id "
        "LIMIT 51"
    )
    after = "WHERE (e.opened_at, e.episode_id) > (?, ?) "
    # The forms the index sent before (2026-12-01), planned on the same store.
    exists = (
        "WHERE EXISTS (SELECT 1 FROM episode_referrers r WHERE r.episode_id = "
        "e.episode_id AND r.referrer_id = ?) "
    )
    after_or = "WHERE (e.opened_at > ? OR (e.opened_at = ? AND e.episode_id > ?)) "
    feed = (
        "SELECT * FROM {items} WHERE physician_id = ? AND seq > ? ORDER BY seq LIMIT 51"
    )
    queries: list[tuple[str, str, list[Any], bool]] = [
        ("feed, a middle page", feed, [s.physician, s.middle_seq], True),
        ("search, first page", search.format(where=""), [], False),
        ("search, a middle page", search.format(where=after),
         [s.middle_key[0], s.middle_key[1]], False),
        ("search, open episodes", search.format(where="WHERE e.status = ? "),
         [s.status], False),
        ("search, one referrer", referred, [s.referrer], False),
        ("before: a middle page, OR form", search.format(where=after_or),
         [s.middle_key[0], s.middle_key[0], s.middle_key[1]], False),
        ("before: one referrer, EXISTS form", search.format(where=exists),
         [s.referrer], False),
        ("search, one patient", search.format(where="WHERE e.patient_id = ? "),
         [s.patient], False),
    ]  # fmt: skip
    explain = "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "
    for name, sql, params, on_feed in queries:
        if on_feed:
            with s.container.read_models.cursor(FEED) as cur:
                rows = cur.execute(explain + sql, params).fetchall()
        else:
            with Database(s.container.episodes).reading() as cur:
                rows = cur.execute(explain + sql, params).fetchall()
        print(f"\n  -- {name}")
        for row in rows:
            print(f"     {next(iter(dict(row).values()))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs=2, default=[10_000, 100_000])
    parser.add_argument("--backend", default="postgres", choices=["postgres", "sqlite"])
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    print(f"{args.backend}: {machine()}", flush=True)
    with ExitStack() as stack:
        small, large = (
            stack.enter_context(opened(args.backend, n)) for n in args.events
        )
        names = list(reads(small))
        samples: dict[tuple[int, str], list[float]] = {}
        for store in (small, large):
            for name, read in reads(store).items():
                for _ in range(5):
                    read()
                samples[(store.events, name)] = []
        for _ in range(args.calls):
            for store in (small, large):
                for name, read in reads(store).items():
                    started = time.perf_counter()
                    read()
                    samples[(store.events, name)].append(
                        (time.perf_counter() - started) * 1000
                    )
        print(
            f"\n  {'read':<24} | p50 / p99 ms at {small.events:,} | "
            f"at {large.events:,} | p99 ratio"
        )
        for name in names:
            a50, a99 = p50_p99(samples[(small.events, name)])
            b50, b99 = p50_p99(samples[(large.events, name)])
            print(
                f"  {name:<24} | {a50:6.2f} / {a99:6.2f} | {b50:6.2f} / {b99:6.2f} | "
                f"{b99 / a99:5.2f}x",
                flush=True,
            )
        if args.backend == "postgres":
            plans(large)


if __name__ == "__main__":
    main()
