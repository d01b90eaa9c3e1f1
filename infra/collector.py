"""The cyclic garbage collector, set for a long-running process of the service.

Almost everything the service allocates is freed by reference counting the
moment it is dropped; the cyclic collector only finds what reference counting
cannot (cycles), and the service makes few. With Python's own settings it still
ran about 4 500 times in a catch-up of 20 000 events, 37 of them over every object
the process holds (its modules, routes, schemas and caches included): 8-12 % of
the catch-up's time (bench/RESULTS.md §2).

`tune_collector` is called once a process has started (`serve`'s workers,
`project`, `projections rebuild`). It collects, freezes what survives so that no
later collection walks it again, and lets `young_threshold` more objects be
alive before a young collection runs. The older generations keep Python's own
ratios. Memory stays bounded: garbage in cycles still starts a collection once
there are `young_threshold` more such objects.
"""

from __future__ import annotations

import gc
import logging

logger = logging.getLogger("care.collector")


def tune_collector(young_threshold: int) -> None:
    """Freeze what the started process holds and run young collections only every
    `young_threshold` net allocations (Python 3.11's default is 700); says so in
    one log line."""
    gc.collect()
    gc.freeze()
    _young, *older = gc.get_threshold()
    gc.set_threshold(young_threshold, *older)
    logger.info(
        "garbage collector set for a long-running process",
        extra={
            "young_threshold": young_threshold,
            "frozen_objects": gc.get_freeze_count(),
        },
    )
