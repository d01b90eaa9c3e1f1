"""The cyclic garbage collector as the service's long-running processes set it
(each test's own settings are put back by conftest's `restored_collector`)."""

from __future__ import annotations

import gc
import logging

from infra.collector import tune_collector


def test_it_sets_the_young_threshold_and_keeps_the_older_ratios():
    _young, *older = gc.get_threshold()
    tune_collector(12_345)
    assert gc.get_threshold() == (12_345, *older)


def test_it_freezes_what_the_process_holds_so_no_collection_walks_it_again():
    gc.unfreeze()
    held = [{"kept": n} for n in range(1000)]
    tune_collector(5_000)
    assert gc.get_freeze_count() >= len(held)
    collectable = {id(o) for o in gc.get_objects()}
    assert not any(id(d) in collectable for d in held)


def test_it_says_what_it_set_in_one_log_line(caplog):
    with caplog.at_level(logging.INFO, logger="care.collector"):
        tune_collector(7_000)
    [record] = caplog.records
    assert record.getMessage() == "garbage collector set for a long-running process"
    assert record.young_threshold == 7_000
    assert record.frozen_objects > 0
