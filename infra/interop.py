"""Interoperability parts of a process: bulk export jobs, webhook subscriptions, and
the background threads that run them (the export worker, the webhook sender)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from domain.application import CareEpisodes
from infra.database import Database
from infra.fhir.jobs import ExportJobs
from infra.fhir.worker import ExportWorker
from infra.projection.locks import AdvisoryLocks, Locks, local_locks
from infra.settings import Settings
from infra.webhooks.outbox import FeedOutbox
from infra.webhooks.sender import WebhookSender, run_sender
from infra.webhooks.subscriptions import Subscriptions

if TYPE_CHECKING:
    from infra.bootstrap import Container

TABLES = ("fhir_export_jobs", "feed_subscriptions")
"""The tables this module keeps (a PostgreSQL service role needs to change them)."""


def create_interop_tables(episodes: CareEpisodes) -> None:
    """Create the export-job and subscription tables if missing."""
    db = Database(episodes)
    ExportJobs(db).create_tables()
    Subscriptions(db).create_tables()


@dataclass
class Interop:
    """Export jobs, subscriptions and the feed outbox of one store."""

    exports: ExportJobs
    subscriptions: Subscriptions
    outbox: FeedOutbox
    worker: ExportWorker | None = None
    """This process's export worker, when it runs one (wake it on a new job)."""

    @classmethod
    def of(cls, container: Container) -> Interop:
        db = Database(container.episodes)
        return cls(
            ExportJobs(db),
            Subscriptions(db),
            FeedOutbox(container.read_models, container.episodes.records),
        )


def sender_locks(settings: Settings, episodes: CareEpisodes) -> Locks:
    """The lock that keeps one webhook sender active per store."""
    if settings.backend == "postgres":
        return AdvisoryLocks(settings, "care_webhooks")
    return local_locks(Database(episodes))


def webhook_sender(container: Container) -> WebhookSender:
    """A sender over this process's store."""
    interop = container.interop
    return WebhookSender(
        interop.subscriptions, interop.outbox, container.access_log, container.settings
    )


@dataclass
class Background:
    """The interop threads of one process, stopped together."""

    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    closers: list[object] = field(default_factory=list)

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop the threads and wait for them."""
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout_s)
        for closer in self.closers:
            closer.close()  # type: ignore[attr-defined]


def start_background(
    container: Container, *, exports: bool, webhooks: bool
) -> Background:
    """Start the export worker and/or the webhook sender in daemon threads."""
    settings = container.settings
    background = Background()
    if exports:
        worker = ExportWorker(
            container.episodes,
            container.interop.exports,
            settings,
            count_episodes=container.index.count,
        )
        container.interop.worker = worker
        background.threads.append(
            threading.Thread(
                target=worker.run,
                args=(background.stop,),
                name="fhir-export",
                daemon=True,
            )
        )
    if webhooks:
        sender = webhook_sender(container)
        locks = sender_locks(settings, container.episodes)
        background.closers.extend([sender, locks])
        background.threads.append(
            threading.Thread(
                target=run_sender,
                args=(sender, locks, background.stop, settings.webhook_poll_interval),
                name="webhook-sender",
                daemon=True,
            )
        )
    for thread in background.threads:
        thread.start()
    return background
