"""The bulk export worker: claims queued jobs, writes their files, expires old ones.

It runs in a background thread of every `serve` process (embedded and PostgreSQL
alike: the files are served by the API, from `CARE_EXPORT_DIR`, which replicas
must share). A job is claimed by compare-and-set and kept by heartbeats; a worker
that dies leaves a job whose heartbeat goes stale, and another worker starts it
again from the beginning (its files are rewritten, the cut stays the same).
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from domain.application import CareEpisodes, utc_now
from infra.fhir.bulk import changed_episodes, export
from infra.fhir.jobs import ExportJob, ExportJobs
from infra.files import private_dir
from infra.settings import Settings

log = logging.getLogger("care.fhir.export")
STALE_AFTER = timedelta(seconds=30)


def job_directory(settings: Settings, job_id: uuid.UUID) -> Path:
    """Where a finished job's files are."""
    return settings.export_directory / str(job_id)


class ExportWorker:
    """Runs bulk export jobs, one at a time, until stopped."""

    def __init__(
        self,
        episodes: CareEpisodes,
        jobs: ExportJobs,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = utc_now,
        count_episodes: Callable[[], int] = lambda: 0,
    ) -> None:
        self.episodes = episodes
        self.jobs = jobs
        self.settings = settings
        self.clock = clock
        self.count_episodes = count_episodes
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.wake = threading.Event()

    def run(self, stop: threading.Event) -> None:
        """Work until `stop` is set; a new job wakes it at once (`wake`)."""
        while not stop.is_set():
            try:
                worked = self.run_once()
                self.expire()
            except Exception:  # the worker must outlive a bad round
                log.exception("bulk export round failed")
                worked = False
            if not worked:
                self.wake.wait(self.settings.export_poll_interval)
                self.wake.clear()

    def run_once(self) -> bool:
        """Run one claimable job to its end; whether there was one."""
        now = self.clock()
        job = self.jobs.claim(self.worker_id, now, now - STALE_AFTER)
        if job is None:
            return False
        try:
            self._run(job)
        except Exception as error:
            log.exception("bulk export %s failed", job.id)
            self.jobs.fail(job.id, self.worker_id, self.clock(), str(error))
        return True

    def expire(self) -> None:
        """Remove the files of jobs past their expiry."""
        for job_id in self.jobs.expired(self.clock()):
            shutil.rmtree(job_directory(self.settings, job_id), ignore_errors=True)

    def _run(self, job: ExportJob) -> None:
        total = self._total(job)
        private_dir(self.settings.export_directory)
        partial = (
            self.settings.export_directory / f".{job.id}.{uuid.uuid4().hex[:8]}.partial"
        )

        def beat(done: int, total: int) -> bool:
            return self.jobs.beat(job.id, self.worker_id, self.clock(), done, total)

        beat(0, total)
        exported = export(self.episodes, job, partial, total, beat)
        if exported is None:
            log.info("bulk export %s stopped (cancelled or taken over)", job.id)
            return
        output, done = exported
        final = job_directory(self.settings, job.id)
        shutil.rmtree(final, ignore_errors=True)
        partial.rename(final)
        now = self.clock()
        expires = now + timedelta(hours=self.settings.export_retention_hours)
        if not self.jobs.finish(job.id, self.worker_id, now, expires, output, done):
            # Cancelled while the last files were written: nothing to keep.
            shutil.rmtree(final, ignore_errors=True)

    def _total(self, job: ExportJob) -> int:
        if job.since_position:
            return len(
                changed_episodes(self.episodes, job.since_position, job.head_position)
            )
        return self.count_episodes()
