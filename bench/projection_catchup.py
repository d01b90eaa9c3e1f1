"""Catch-up of every real read model over demo events, against two baselines.

    python -m bench.projection_catchup [--events 100000 1000000]
        [--backend postgres --backend sqlite] [--library-events 5000] [--each]
        [--reuse]

For each backend and size, over a store of events made with `care-episodes
demo` (bench.demo_store; `--reuse` keeps it for the next run and uses the kept
one, without it the store is made and removed): (a) reading and decoding every
event alone, (b) this engine catching all real read models up (referral_audit,
worklist, physician_feed, quality_measures: infra.catalog) from position 0 in
one process, as `care-episodes project` does, and (c) the library's
ProjectionRunner running the same projections, one transaction per event
(bench.library_runner), over the first `--library-events` events, against the
engine over those same events (a store's first events cost less than its later
ones, whose episodes' states are larger). Each measurement runs in a process of
its own on a copy of the store, so peak RSS is its own. The engine's run also
times, per event, the read models' own code (`handle`, `settle`, `receive`) and
the coding of their states (`StateCodec`): work any engine keeping a state per
episode must do, so those alone give the fastest catch-up such an engine could
reach, against read + decode; and the cyclic garbage collector's runs and time.
Every child sets its collector as the service's processes do once started
(infra.collector, `CARE_GC_YOUNG_THRESHOLD`). `--each` also catches each
read model up alone (at the first size). Prints events/s, the ratios and peak
RSS per size.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from bench.demo_store import prepare
from bench.support import (
    BACKENDS,
    fresh_store,
    machine,
    peak_rss_mib,
    remove_prepared,
    run_child,
)
from infra.catalog import build_projections
from infra.collector import tune_collector
from infra.encryption import prefetch_keys
from infra.eventstore import build_application
from infra.projection import Engine, EngineOptions
from infra.projection.states import StateCodec
from infra.settings import Settings
from projections.base import Projection

BATCH = int(__import__("os").environ.get("BENCH_BATCH", "500"))


def read_and_decode(settings: Settings) -> dict[str, Any]:
    """(a) Page through the global order and decode every event, opening each
    page's data keys with one read as the engine does."""
    with build_application(settings) as app:
        tune_collector(settings.gc_young_threshold)  # as the engine's process
        started = time.perf_counter()
        position = count = 0
        while batch := app.recorder.select_notifications(
            start=position, limit=BATCH, inclusive_of_start=False
        ):
            prefetch_keys(app, batch)  # as the engine opens a batch's keys
            for notification in batch:
                app.mapper.to_domain_event(notification)
            count += len(batch)
            position = batch[-1].id
        return {"events": count, "seconds": time.perf_counter() - started}


@contextmanager
def timing(projections: list[Projection]) -> Iterator[Counter[str]]:
    """Seconds spent in the read models' own code ("handlers"), in coding their
    states ("states") and in the cyclic garbage collector ("gc", with "gc0",
    "gc1", "gc2" counting its runs per generation), while the block runs (a call
    costs ~0.2 us more)."""
    spent: Counter[str] = Counter()

    def timed(inner: Callable[..., Any], kind: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                spent[kind] += time.perf_counter() - started

        return call

    for projection in projections:
        for name in ("handle", "settle", "receive"):
            setattr(projection, name, timed(getattr(projection, name), "handlers"))
    coding = StateCodec.encode, StateCodec.decode
    StateCodec.encode = timed(coding[0], "states")  # type: ignore[method-assign]
    StateCodec.decode = timed(coding[1], "states")  # type: ignore[method-assign]
    collecting: list[float] = []

    def collector(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collecting.append(time.perf_counter())
        elif collecting:
            took = time.perf_counter() - collecting.pop()
            spent["gc"] += took
            spent[f"gc{info['generation']}"] += 1

    gc.callbacks.append(collector)
    try:
        yield spent
    finally:
        gc.callbacks.remove(collector)
        StateCodec.encode, StateCodec.decode = coding  # type: ignore[method-assign]


def engine_catch_up(
    settings: Settings, only: str | None, first: int | None = None
) -> dict[str, Any]:
    """(b) The engine, every real read model (or one), from position 0 to the head
    (or over the `first` events, the library's share, for a like-for-like ratio),
    with the seconds its read models' own code and their states' coding took and
    the process's CPU seconds (this process's own PostgreSQL work not included)."""
    projections = [
        p for p in build_projections(settings) if only is None or p.name == only
    ]
    with build_application(settings) as app, timing(projections) as spent:
        events = app.recorder.count_events()
        engine = Engine(app, settings, projections, EngineOptions(batch_size=BATCH))
        tune_collector(settings.gc_young_threshold)  # as `project` does, started
        started, cpu = time.perf_counter(), time.process_time()
        if first is None:
            engine.catch_up()
        else:
            head = app.recorder.select_notifications(start=1, limit=first)
            events, until = len(head), head[-1].id
            while engine.run_once() and _lowest(engine) < until:
                pass
            if _lowest(engine) != until:
                raise SystemExit(f"--library-events must be a multiple of {BATCH}")
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu
        engine.close()
        return {"events": events, "seconds": seconds, "cpu": cpu, **spent}


def _lowest(engine: Engine) -> int:
    return min(track.gen.position for track in engine.tracks.values())


def library_catch_up(settings: Settings, events: int) -> dict[str, Any]:
    """(c) The library's runner over the first `events` events."""
    from bench.library_runner import run_library

    with build_application(settings) as app:
        batch = app.recorder.select_notifications(start=1, limit=events)
        until = batch[-1].id
        tune_collector(settings.gc_young_threshold)  # as the engine's process
        started = time.perf_counter()
        run_library(app, settings, build_projections(settings), until)
        return {"events": len(batch), "seconds": time.perf_counter() - started}


def child(args: argparse.Namespace) -> None:
    """One measurement on a copy of the prepared store; prints a JSON line."""
    with fresh_store(args.backend, template=args.store) as settings:
        if args.child == "decode":
            result = read_and_decode(settings)
        elif args.child == "engine":
            result = engine_catch_up(settings, args.only)
        elif args.child == "engine-first":
            result = engine_catch_up(settings, args.only, args.library_events)
        else:
            result = library_catch_up(settings, args.library_events)
    print(json.dumps({**result, "peak_rss_mib": peak_rss_mib()}), flush=True)


def measure(mode: str, backend: str, store: str, *extra: str) -> dict[str, Any]:
    return run_child(
        "bench.projection_catchup", "--child", mode, "--backend", backend,
        "--store", store, *extra,
    )  # fmt: skip


def rate(result: dict[str, Any]) -> float:
    return result["events"] / result["seconds"]


def floor_line(engine: dict[str, Any], decode: dict[str, Any]) -> str:
    """Per event, what the read models' own code and their states' coding cost
    in the engine's run, and the rate those alone would allow."""
    events = engine["events"]
    handlers, states = engine["handlers"] / events, engine["states"] / events
    collector = engine.get("gc", 0.0) / events  # inside whichever code allocated
    return (
        f"    per event: read models' own code {handlers * 1e6:6,.0f} us, "
        f"their states' coding {states * 1e6:6,.0f} us, the rest of the engine "
        f"{(engine['seconds'] / events - handlers - states) * 1e6:6,.0f} us | "
        f"with nothing else, read + decode + those: {fastest(engine, decode):7,.0f} "
        f"ev/s = {fastest(engine, decode) / rate(decode):4.2f} of read+decode | "
        f"of all these, the cyclic garbage collector {collector * 1e6:4,.0f} us "
        f"({engine.get('gc2', 0)} full runs)"
    )


def fastest(engine: dict[str, Any], decode: dict[str, Any]) -> float:
    """Events/s of an engine that did only read + decode, the read models' own
    code and their states' coding (no SQL, no commit): a bound on any engine
    that keeps a state per episode and read model."""
    per_event = (engine["handlers"] + engine["states"]) / engine["events"]
    return 1 / (per_event + 1 / rate(decode))


def run(backend: str, sizes: list[int], args: argparse.Namespace) -> None:
    print(f"\n{backend}: batches of {BATCH}; {machine()}", flush=True)
    rss: dict[int, float] = {}
    for n, size in enumerate(sizes):
        made = prepare(backend, size)
        try:
            print(
                f"  store: {made.events:,} demo events ({made.episodes:,} episodes), "
                f"made in {made.seconds:.0f} s",
                flush=True,
            )
            decode = measure("decode", backend, made.name)
            engine = measure("engine", backend, made.name)
            rss[size] = engine["peak_rss_mib"]
            line = (
                f"  {made.events:>9,} events | read+decode {rate(decode):9,.0f} ev/s | "
                f"engine (all read models) {rate(engine):8,.0f} ev/s, "
                f"{engine['seconds']:7.1f} s, peak RSS {engine['peak_rss_mib']:6.0f} MiB"
                f" | engine / read+decode {rate(engine) / rate(decode):5.2f}"
            )
            print(line, flush=True)
            print(floor_line(engine, decode), flush=True)
            line = "   "
            if n == 0:
                library = measure(
                    "library", backend, made.name,
                    "--library-events", str(args.library_events),
                )  # fmt: skip
                same = measure(
                    "engine-first", backend, made.name,
                    "--library-events", str(args.library_events),
                )  # fmt: skip
                line += (
                    f" | over the first {library['events']:,}: library "
                    f"{rate(library):6,.0f} ev/s, engine {rate(same):6,.0f} ev/s, "
                    f"engine / library {rate(same) / rate(library):5.1f}x "
                    f"(read + decode + the read models' code and states alone: "
                    f"{fastest(same, decode) / rate(library):5.1f}x)"
                )
            print(line, flush=True)
            if n == 0 and args.each:
                for projection in build_projections(Settings()):
                    alone = measure(
                        "engine", backend, made.name, "--only", projection.name
                    )
                    print(
                        f"    {projection.name:<15} alone {rate(alone):8,.0f} ev/s | "
                        f"/ read+decode {rate(alone) / rate(decode):5.2f}",
                        flush=True,
                    )
        finally:
            if not args.reuse:
                remove_prepared(backend, made.name)
    if len(rss) > 1:
        small, large = sizes[0], sizes[-1]
        print(
            f"  peak RSS at {large:,} / at {small:,}: {rss[large] / rss[small]:.2f}x",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--backend", action="append", choices=BACKENDS)
    parser.add_argument(
        "--library-events", type=int, default=5_000,
        help=f"a multiple of the batch ({BATCH})",
    )  # fmt: skip
    parser.add_argument("--each", action="store_true", help="each read model alone too")
    parser.add_argument(
        "--reuse", action="store_true",
        help="keep the demo stores (var/bench, care_bench_demo_N) and reuse kept ones",
    )  # fmt: skip
    parser.add_argument(
        "--child", choices=["decode", "engine", "engine-first", "library"]
    )
    parser.add_argument("--store")
    parser.add_argument("--only")
    args = parser.parse_args()
    if args.child:
        args.backend = args.backend[0]
        child(args)
        return
    for backend in args.backend or BACKENDS:
        run(backend, args.events, args)


if __name__ == "__main__":
    main()
