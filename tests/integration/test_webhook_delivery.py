"""Push delivery of the physician feed to a real receiver on loopback: failures,
the receiver gone and back, a feed rebuild, each item exactly once and in order."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from domain import commands as cmd
from infra.bootstrap import Container, bootstrap
from infra.interop import start_background
from infra.projection import rebuild
from infra.settings import Settings
from infra.webhooks.message import feed_cursor, message_id
from infra.webhooks.subscriptions import Subscription
from projections.physician_feed import PhysicianFeedProjection
from tests.integration.feed_scenarios import feed_of, varied_history, write
from tests.integration.webhook_receiver import SECRET, Receiver
from tests.support import builders as b
from tests.support import projections as ps
from tests.support.server import ROOT, TEST_KEY_ENV

PHYSICIAN = "dr-a"
# Retries come fast here; the sender's own defaults are seconds to minutes.
FAST = {
    "webhook_allow_loopback_http": True,
    "webhook_backoff_base": 0.05,
    "webhook_backoff_max": 0.2,
    "webhook_poll_interval": 0.05,
    "webhook_max_failures": 1000,
}


def fast(settings: Settings, **more: object) -> Settings:
    return settings.model_copy(update={**FAST, **more})


@pytest.fixture
def container(settings: Settings) -> Iterator[Container]:
    with bootstrap(fast(settings)) as found:
        yield found


def catch_up(container: Container) -> None:
    engine = container.engine(ps.FAST)
    engine.catch_up()
    engine.close()


def subscribe(
    container: Container, url: str, types: tuple[str, ...] = ()
) -> Subscription:
    """A subscription to the physician's feed from its first item."""
    now = datetime.now(UTC)
    sub = Subscription(
        id=uuid4(),
        physician_id=PHYSICIAN,
        endpoint=url,
        secret=SECRET,
        types=types,
        status="active",
        created_by="svc-intake",
        created_role="service",
        created_at=now,
        cursor=container.interop.outbox.at(PHYSICIAN, 0),
        next_attempt_at=now,
    )
    container.interop.subscriptions.add(sub)
    return sub


def expected_ids(container: Container, sub: Subscription) -> list[str]:
    """The webhook ids of the physician's feed items, in feed order."""
    items = feed_of(container.read_models, PHYSICIAN)
    return [message_id(sub.id, i["episode_id"], i["version"]) for i in items]


def test_every_item_arrives_once_in_order_signed_through_failures_and_a_rebuild(
    container, settings
):
    # given a feed with items, and a receiver that fails its first three requests
    varied_history(container.episodes)
    catch_up(container)
    receiver = Receiver(fail_first=3).start()
    sub = subscribe(container, receiver.url)
    background = start_background(container, exports=False, webhooks=True)
    try:
        # when some items are delivered, then the receiver goes away
        receiver.wait_for(lambda: len(receiver.accepted()) >= 5)
        receiver.stop()
        open_episode = next(
            UUID(i["episode_id"])
            for i in feed_of(container.read_models, PHYSICIAN)
            if i["patient_id"] == "pt-a2"  # the one of dr-a's episodes still open
        )
        for day in (70, 71):
            write(container.episodes, open_episode, cmd.RecordOutcome, b.outcome(), day)
        catch_up(container)
        # while it is away, attempts fail and back off
        wait_until(lambda: container.interop.subscriptions.get(sub.id).failures >= 2)
        # and it comes back on the same port
        receiver.start()
        want = expected_ids(container, sub)
        receiver.wait_for(lambda: len(receiver.accepted()) >= len(want))
        time.sleep(0.3)  # anything sent twice would have come by now
        # then every item came exactly once, in feed order, validly signed
        accepted = receiver.accepted()
        assert [r.msg_id for r in accepted] == want
        assert all(r.signature_valid for r in receiver.receipts)
        # the three failed attempts were of the first item, with the same id
        assert [r.msg_id for r in receiver.receipts[:3]] == [want[0]] * 3
        items = feed_of(container.read_models, PHYSICIAN)
        assert [r.body["data"]["cursor"] for r in accepted] == [
            feed_cursor(i["seq"]) for i in items
        ]
        assert [r.body["type"] for r in accepted] == [
            f"feed.item.{i['type']}" for i in items
        ]
        state = container.interop.subscriptions.get(sub.id)
        assert (state.status, state.delivered, state.failures) == (
            "active",
            len(want),
            0,
        )

        # when the feed is rebuilt into new tables
        before = len(receiver.receipts)
        rebuild(container.episodes, container.settings, PhysicianFeedProjection(),
                options=ps.FAST)  # fmt: skip
        time.sleep(0.5)
        # then nothing is sent again
        assert len(receiver.receipts) == before
        # and the next new item is the one delivered next
        write(container.episodes, open_episode, cmd.RecordOutcome, b.outcome(), 72)
        catch_up(container)
        receiver.wait_for(lambda: len(receiver.receipts) == before + 1)
        version = container.episodes.records.select_head_version(open_episode)
        newest = receiver.receipts[-1]
        assert newest.msg_id == message_id(sub.id, str(open_episode), version)
        assert newest.status == 204 and newest.signature_valid
    finally:
        background.close()
        receiver.stop()


def test_a_subscription_gets_only_the_item_types_it_asked_for(container):
    varied_history(container.episodes)
    catch_up(container)
    receiver = Receiver().start()
    subscribe(container, receiver.url, types=("OutcomeRecorded",))
    background = start_background(container, exports=False, webhooks=True)
    try:
        outcomes = [
            i for i in feed_of(container.read_models, PHYSICIAN)
            if i["type"] == "OutcomeRecorded"
        ]  # fmt: skip
        receiver.wait_for(lambda: len(receiver.accepted()) >= len(outcomes))
        time.sleep(0.3)
        assert [r.body["data"]["episode_id"] for r in receiver.accepted()] == [
            i["episode_id"] for i in outcomes
        ]
    finally:
        background.close()
        receiver.stop()


def test_repeated_failures_pause_a_subscription_until_it_is_resumed(settings):
    with bootstrap(fast(settings, webhook_max_failures=3)) as container:
        varied_history(container.episodes)
        catch_up(container)
        receiver = Receiver(fail_first=10_000).start()
        sub = subscribe(container, receiver.url)
        background = start_background(container, exports=False, webhooks=True)
        try:
            subs = container.interop.subscriptions
            wait_until(lambda: subs.get(sub.id).status == "paused")
            time.sleep(0.3)
            # paused: no more attempts than the three that paused it
            assert len(receiver.receipts) == 3
            assert subs.get(sub.id).last_error == "endpoint answered 500"
            # when the receiver is fixed and the subscription resumed
            receiver.fail_first = 0
            subs.resume(sub.id, datetime.now(UTC))
            want = expected_ids(container, sub)
            receiver.wait_for(lambda: len(receiver.accepted()) == len(want))
            assert [r.msg_id for r in receiver.accepted()] == want
        finally:
            background.close()
            receiver.stop()


def wait_until(condition, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true"
        time.sleep(0.02)


class Deliverer:
    """`care-episodes deliver` in a process of its own, on the test's store."""

    def __init__(self, settings: Settings) -> None:
        env = {
            "CARE_DATABASE_URL": settings.database_url,
            **{f"CARE_{k.upper()}": str(v).lower() if isinstance(v, bool) else str(v)
               for k, v in FAST.items()},
        }  # fmt: skip
        clean = {k: v for k, v in os.environ.items() if not k.startswith("CARE_")}
        self._log = tempfile.TemporaryFile(mode="a+b")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "infra.cli", "deliver"],
            cwd=ROOT,
            env={**clean, "PYTHONPATH": str(ROOT), **TEST_KEY_ENV, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def stop(self, signum: int = signal.SIGTERM) -> int:
        self.process.send_signal(signum)
        return self.process.wait(timeout=30)


def test_a_deliverer_killed_mid_feed_and_started_again_sends_each_item_once(
    container, settings
):
    # given a feed and a slow receiver (about 20 items a second)
    varied_history(container.episodes)
    catch_up(container)
    receiver = Receiver(delay=0.05).start()
    sub = subscribe(container, receiver.url)
    want = expected_ids(container, sub)
    # when the deliverer is killed (SIGKILL) after a few items
    first = Deliverer(settings)
    try:
        receiver.wait_for(lambda: len(receiver.accepted()) >= 5)
    finally:
        first.stop(signal.SIGKILL)
    assert len(receiver.accepted()) < len(want), "killed too late to test a restart"
    # and another is started on the same store
    second = Deliverer(settings)
    try:
        receiver.wait_for(lambda: len(receiver.accepted()) >= len(want))
        time.sleep(0.3)
    finally:
        code = second.stop()
    receiver.stop()
    assert code == 0, second.output()
    assert "webhook sender stopped" in second.output()
    # then each item came in order; the one in flight at the kill may come again,
    # with the same webhook-id, right after itself (the receiver drops it by id)
    got = [r.msg_id for r in receiver.accepted()]
    assert list(dict.fromkeys(got)) == want
    repeats = [i for i in range(1, len(got)) if got[i] == got[i - 1]]
    assert len(got) - len(want) == len(repeats) <= 1
    assert all(r.signature_valid for r in receiver.receipts)
