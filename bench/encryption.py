"""The command path with payloads sealed per patient, against the same path in plain.

    python -m bench.encryption [--backend sqlite --backend postgres]
        [--episodes 40] [--commands 10] [--rounds 3]

For each backend, in one run and on fresh stores: `CareEpisodes.handle` (the
command path below HTTP: decide, seal, append with the hash chain and the
episode index) opening episodes for distinct patients and recording outcomes
on them, once with CARE_ENCRYPT_EVENTS on and once off in each round (which
goes first alternates), so the machine's drift falls on both. Prints commands/s
of each (medians) per second of wall time and per second of the process's CPU
time, and each round's ratio of sealed to plain (1.00 = no cost; the issue's bar
is at most 10 % slower). On a loaded machine the wall figures swing with other
processes' fsyncs; the CPU figures hold what sealing itself costs. HTTP
adds the same cost to both, so over HTTP the ratio is closer still to 1.
"""

from __future__ import annotations

import argparse
import statistics
import time
from uuid import UUID

from bench.support import fresh_store, machine, ratio
from domain import commands as cmd
from infra.eventstore import build_application
from tests.support import builders as b


def run_once(settings, episodes: int, commands: int) -> tuple[float, float]:
    """Commands per second for `episodes` episodes of `commands` commands each: per
    second of wall time, and per second of this process's CPU time (what sealing
    adds is CPU work; the commits' waits, alike in both, swing with the load)."""
    with build_application(settings) as app:
        started, cpu = time.perf_counter(), time.process_time()
        done = 0
        for n in range(episodes):
            opening = cmd.OpenEpisode(
                occurred_at=b.at(0), **b.referral(patient_id=f"pt-bench-{n:05d}")
            )
            episode: UUID = app.handle(opening, actor=b.SERVICE).episode_id
            done += 1
            treated = app.handle(
                b.command(cmd.PerformIntervention, episode, b.esi(), days=1),
                actor=b.SERVICE,
            )
            done += 1
            for i in range(commands - 2):
                body = b.outcome(
                    instrument="nrs_pain", score=i % 10, follows_version=treated.version
                )
                app.handle(
                    b.command(cmd.RecordOutcome, episode, body, days=2, hours=i),
                    actor=b.SERVICE,
                )
                done += 1
        wall = time.perf_counter() - started
        return done / wall, done / (time.process_time() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", action="append", choices=["sqlite", "postgres"])
    parser.add_argument("--episodes", type=int, default=40)
    parser.add_argument("--commands", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(machine())
    for backend in args.backend or ["sqlite", "postgres"]:
        rates: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
        for n in range(args.rounds):
            # Each round measures both, the first one alternating, so the drift
            # of a loaded machine falls on each alike; a round's ratio pairs them.
            for sealed in (False, True) if n % 2 == 0 else (True, False):
                with fresh_store(backend, encrypt_events=sealed) as settings:
                    rates[sealed].append(
                        run_once(settings, args.episodes, args.commands)
                    )
        for i, clock in enumerate(("wall", "CPU")):
            plain, sealed = (
                statistics.median(r[i] for r in rates[k]) for k in (False, True)
            )
            rounds = [
                s[i] / p[i] for s, p in zip(rates[True], rates[False], strict=True)
            ]
            print(
                f"{backend} ({clock}): plain {plain:,.0f} commands/s, sealed "
                f"{sealed:,.0f} commands/s; sealed/plain {ratio(sealed, plain)} "
                f"(medians of {args.rounds} rounds); per round "
                + " ".join(f"{r:.2f}x" for r in rounds)
            )


if __name__ == "__main__":
    main()
