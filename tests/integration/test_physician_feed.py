"""The physician feed on each backend: whose items, in what order, paged while writes go on."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from domain import commands as cmd
from infra.projection import Engine, ReadModels, start_in_background
from infra.views.physician_feed import SqlPhysicianFeedView
from projections.physician_feed import PhysicianFeedProjection
from tests.integration.feed_scenarios import (
    DR_A,
    DR_B,
    DR_S,
    actual_items,
    feed_of,
    folded_items,
    open_for,
    varied_history,
    write,
)
from tests.support import builders as b
from tests.support import projections as ps


@pytest.fixture
def feed_reads(store) -> ReadModels:
    return ReadModels(store, [PhysicianFeedProjection()])


@pytest.fixture
def view(feed_reads) -> SqlPhysicianFeedView:
    return SqlPhysicianFeedView(feed_reads)


def catch_up(store, settings) -> None:
    engine = Engine(store, settings, [PhysicianFeedProjection()], ps.FAST)
    engine.catch_up()
    engine.close()


def whole_feed(
    view: SqlPhysicianFeedView, physician: str, limit: int = 3
) -> list[dict]:
    """Every item of a physician, page after page."""
    rows: list[dict] = []
    while True:
        page = view.page(physician, rows[-1]["seq"] if rows else None, limit)
        rows += page.items
        if not page.more:
            return rows


def test_two_physicians_with_interleaved_patients_each_see_exactly_their_own_in_order(
    store, settings, view
):
    # given patients of two physicians whose events interleave
    a1 = open_for(store, DR_A, "pt-a1")
    b1 = open_for(store, DR_B, "pt-b1")
    written = {"dr-a": [(a1, 1)], "dr-b": [(b1, 1)]}
    for day, (episode, owner) in enumerate([(a1, "dr-a"), (b1, "dr-b")] * 3, start=1):
        write(store, episode, cmd.ScreenRedFlags, b.screening(), days=day)
        written[owner].append((episode, len(written[owner]) + 1))
    a2 = open_for(store, DR_A, "pt-a2")
    written["dr-a"].append((a2, 1))
    write(store, b1, cmd.AssignClinician, b.assignment(), days=7)
    written["dr-b"].append((b1, 5))
    # when the feed catches up
    catch_up(store, settings)
    # then each physician's feed holds exactly their events, in global order
    for physician, expected in written.items():
        rows = whole_feed(view, physician)
        assert [(r["episode_id"], r["version"]) for r in rows] == [
            (str(episode), version) for episode, version in expected
        ]
        assert [r["seq"] for r in rows] == list(range(1, len(expected) + 1))


def test_a_later_referrer_sees_the_episode_only_from_their_referral_on(
    store, settings, view
):
    episode = open_for(store, DR_A, "pt-a1")
    write(store, episode, cmd.ScreenRedFlags, b.screening(), days=1)
    write(store, episode, cmd.ReceiveReferral, b.further_referral(referrer=DR_S), 2)
    write(store, episode, cmd.PerformIntervention, b.esi(), days=3)
    catch_up(store, settings)

    assert [(r["version"], r["type"]) for r in whole_feed(view, "dr-s")] == [
        (3, "ReferralReceived"),
        (4, "InterventionPerformed"),
    ]
    assert [r["version"] for r in whole_feed(view, "dr-a")] == [1, 2, 3, 4]


def test_the_engines_items_equal_a_fold_of_the_store(store, settings, feed_reads):
    varied_history(store)
    catch_up(store, settings)
    assert actual_items(feed_reads) == folded_items(store, PhysicianFeedProjection())


def test_a_physician_without_patients_has_an_empty_feed(store, settings, view):
    open_for(store, DR_A, "pt-a1")
    catch_up(store, settings)
    page = view.page("dr-nobody", None, 50)
    assert (page.items, page.more) == ([], False)
    assert page.position == store.recorder.max_notification_id()


class Writer(threading.Thread):
    """Records events on the physician's episodes until stopped."""

    def __init__(self, store) -> None:
        super().__init__(daemon=True)
        self.store = store
        self.stopping = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            episodes = [open_for(self.store, DR_A, f"pt-{n}") for n in range(3)]
            while not self.stopping.is_set():
                for episode in episodes:
                    write(self.store, episode, cmd.ScreenRedFlags, b.screening())
        except BaseException as error:
            self.error = error


def pages_while(writer: Writer, view: SqlPhysicianFeedView) -> Iterator[list[dict]]:
    """Pages of three, read while the writer writes, then to the end."""
    seq = None
    while True:
        page = view.page("dr-a", seq, 3)
        if page.items:
            seq = page.items[-1]["seq"]
            yield page.items
        elif not writer.is_alive():
            return
        else:
            time.sleep(0.01)


def test_paging_while_writes_continue_loses_and_repeats_nothing(
    store, settings, view, feed_reads
):
    # given an engine keeping the feed up to date and a writer that keeps writing
    engine = start_in_background(store, settings, [PhysicianFeedProjection()], ps.FAST)
    writer = Writer(store)
    read: list[dict] = []
    try:
        writer.start()
        # when a reader pages through the feed as it grows, until the writer stops
        for page in pages_while(writer, view):
            read += page
            if len(read) >= 60:
                writer.stopping.set()
                writer.join()
                head = store.recorder.max_notification_id()
                assert feed_reads.wait_for("physician_feed", head, ps.WAIT_S)
    finally:
        writer.stopping.set()
        writer.join()
        engine.stop()
    assert writer.error is None
    # then it read every item exactly once, in order
    everything = feed_of(feed_reads, "dr-a")
    assert [r["seq"] for r in read] == list(range(1, len(everything) + 1))
    assert read == everything
