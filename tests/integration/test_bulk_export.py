"""Bulk export jobs on each backend: a demo store of 1 000 episodes, `_since` by
recorded time, a worker that dies, one that fails, and a cancel mid-run."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from domain import commands as cmd
from domain.application import utc_now
from infra import demo
from infra.bootstrap import Container, bootstrap
from infra.eventstore import chained_recorder, episode_records
from infra.fhir.bulk import cut_now, export, position_at
from infra.fhir.jobs import ExportJob
from infra.fhir.worker import STALE_AFTER, ExportWorker, job_directory
from infra.settings import Settings
from projections.fhir_export import RESOURCE_TYPES
from tests.support import builders as b
from tests.unit.fhir_support import validate_resource


@pytest.fixture
def container(settings: Settings, tmp_path: Path) -> Iterator[Container]:
    exports = settings.model_copy(update={"export_dir": tmp_path / "exports"})
    with bootstrap(exports) as found:
        yield found


def queue(container: Container, since: datetime | None = None, **fields) -> ExportJob:
    """An export job of every episode up to the head, as the kick-off makes one."""
    episodes = container.episodes
    now = datetime.now(UTC)
    cut = cut_now(episodes, now)
    job = ExportJob(
        id=uuid4(),
        principal_id="aud-1",
        role="auditor",
        request="/fhir/$export",
        types=fields.pop("types", RESOURCE_TYPES),
        since=since,
        since_position=position_at(episodes, since, cut.head) if since else 0,
        head_position=cut.head,
        transaction_time=cut.transaction_time,
        created_at=now,
        **fields,
    )
    container.interop.exports.add(job)
    return job


def worker(container: Container, clock: Callable[[], datetime] = utc_now):
    return ExportWorker(
        container.episodes,
        container.interop.exports,
        container.settings,
        clock=clock,
        count_episodes=container.index.count,
    )


def lines(container: Container, job: ExportJob, kind: str) -> list[dict]:
    path = job_directory(container.settings, job.id) / f"{kind}.ndjson"
    with path.open(encoding="utf-8") as file:
        return [json.loads(line) for line in file]


def event_types(container: Container) -> Counter:
    """How many events of each type the store holds, read from its records."""
    found: Counter = Counter()
    for records in episode_records(chained_recorder(container.episodes)):
        for record in records:
            found[record.topic.rsplit(".", 1)[-1].split(":")[-1]] += 1
    return found


def test_a_demo_store_of_1000_episodes_exports_the_right_count_per_type(container):
    # given a demo store of 1 000 episodes
    episodes, _ = demo.load(container.episodes, 1000, seed=11)
    events = event_types(container)
    job = queue(container)
    # when a worker runs the export
    assert worker(container).run_once()
    # then it completed with one file per type, each the count its events make
    done = container.interop.exports.get(job.id)
    assert (done.state, done.done, done.total) == ("completed", episodes, episodes)
    counts = {f.type: f.count for f in done.output}
    assert counts == {
        "EpisodeOfCare": episodes,
        "ServiceRequest": events["ReferralReceived"] + events["SurgeryReferred"],
        "Task": events["ReferralReceived"] + events["SurgeryReferred"],
        "Observation": events["RedFlagsScreened"]
        + events["DiagnosticCompleted"]
        + events["OutcomeRecorded"],
        "DiagnosticReport": events["DiagnosticCompleted"],
        "Procedure": events["ConservativeCareRecorded"]
        + events["InterventionPerformed"]
        + events["BiologicAdministered"],
        "MedicationAdministration": events["BiologicAdministered"],
        "CarePlan": events["TreatmentPlanned"],
        "Communication": events["ConsultNoteSent"],
        "Provenance": sum(events.values()),
    }
    for kind, count in counts.items():
        resources = lines(container, job, kind)
        assert len(resources) == count
        assert {r["resourceType"] for r in resources} == {kind}
        for resource in resources[:25]:
            validate_resource(resource)


def test_since_exports_only_the_resources_an_event_after_it_made_or_changed(
    container,
):
    # given two episodes, then an instant, then one more event
    app = container.episodes
    first = app.handle(cmd.OpenEpisode(occurred_at=b.at(0), **b.referral()),
                       actor=b.SERVICE).episode_id  # fmt: skip
    app.handle(cmd.OpenEpisode(occurred_at=b.at(0), **b.referral(patient_id="pt-2")),
               actor=b.SERVICE)  # fmt: skip
    since = pause()
    diagnostic = b.command(cmd.RecordDiagnostic, first, b.mri(), days=1)
    version = app.handle(diagnostic, actor=b.SERVICE).version
    # when the export asks for what was recorded after that instant
    job = queue(container, since=since)
    worker(container).run_once()
    # then it holds the diagnostic's resources and Provenance, nothing else
    done = container.interop.exports.get(job.id)
    ids = {
        f.type: [r["id"] for r in lines(container, job, f.type)] for f in done.output
    }
    assert ids == {
        "Observation": [f"{first}-{version}"],
        "DiagnosticReport": [f"{first}-{version}"],
        "Provenance": [f"{first}-{version}"],
    }
    assert (done.done, done.total) == (1, 1)  # one episode read, the other skipped


def pause() -> datetime:
    """An instant strictly between the events recorded before and after it."""
    time.sleep(0.005)
    moment = datetime.now(UTC)
    time.sleep(0.005)
    return moment


def test_since_maps_a_recorded_instant_to_the_last_position_at_or_before_it(
    container,
):
    app = container.episodes
    positions, instants = [], []
    for _ in range(6):
        instants.append(pause())
        opening = cmd.OpenEpisode(occurred_at=b.at(0), **b.referral())
        positions.append(app.handle(opening, actor=b.SERVICE).position)
    head = positions[-1]
    # (asked for, the head waits for every write before it to settle)
    assert app.recorder.max_notification_id() == head
    assert position_at(app, instants[0], head) == 0
    assert position_at(app, instants[3], head) == positions[2]
    assert position_at(app, instants[5], head) == positions[4]
    assert position_at(app, pause(), head) == head
    assert position_at(app, pause(), positions[1]) == positions[1]


def test_type_writes_only_the_types_asked_for(container):
    demo.load(container.episodes, 20, seed=3)
    job = queue(container, types=("Communication", "EpisodeOfCare"))
    worker(container).run_once()
    done = container.interop.exports.get(job.id)
    assert {f.type for f in done.output} == {"Communication", "EpisodeOfCare"}
    files = sorted(p.name for p in job_directory(container.settings, job.id).iterdir())
    assert files == ["Communication.ndjson", "EpisodeOfCare.ndjson", "episodes.txt"]


def test_a_queued_job_survives_a_restart_and_a_new_process_runs_it(settings, tmp_path):
    exports = settings.model_copy(update={"export_dir": tmp_path / "exports"})
    with bootstrap(exports) as before:
        demo.load(before.episodes, 10, seed=5)
        job = queue(before)
    # the process stopped; another starts on the same store
    with bootstrap(exports) as after:
        assert after.interop.exports.get(job.id).state == "queued"
        assert worker(after).run_once()
        done = after.interop.exports.get(job.id)
        assert done.state == "completed"
        assert {f.type: f.count for f in done.output}["EpisodeOfCare"] == 10


def test_a_job_whose_worker_went_quiet_is_taken_over_and_finished(container):
    demo.load(container.episodes, 10, seed=5)
    job = queue(container)
    now = datetime.now(UTC)
    # a worker claims the job, then dies without a word
    gone = worker(container)
    assert container.interop.exports.claim(gone.worker_id, now, now - STALE_AFTER)
    # while its heartbeat is fresh, nobody else takes the job
    assert not worker(container).run_once()
    # once it is stale, another worker runs it from the beginning
    later = now + STALE_AFTER + timedelta(seconds=1)
    taker = worker(container, clock=lambda: later)
    assert taker.run_once()
    done = container.interop.exports.get(job.id)
    assert (done.state, done.worker) == ("completed", taker.worker_id)
    # the dead worker can no longer report on it
    assert not container.interop.exports.beat(job.id, gone.worker_id, now, 1, 1)


def test_a_job_that_cannot_be_written_fails_saying_why(container):
    demo.load(container.episodes, 3, seed=5)
    container.settings.export_directory.parent.mkdir(parents=True, exist_ok=True)
    container.settings.export_directory.write_text("a file where the directory goes")
    job = queue(container)
    assert worker(container).run_once()
    failed = container.interop.exports.get(job.id)
    assert failed.state == "failed"
    assert "exports" in failed.error


def test_a_job_cancelled_while_running_stops_and_leaves_no_files(container, tmp_path):
    demo.load(container.episodes, 250, seed=5)
    job = queue(container)
    jobs = container.interop.exports
    now = datetime.now(UTC)
    jobs.claim("w-1", now, now - STALE_AFTER)
    beats: list[int] = []

    def beat(done: int, total: int) -> bool:
        beats.append(done)
        if len(beats) == 1:
            assert jobs.cancel(job.id, datetime.now(UTC)) == "running"
        return jobs.beat(job.id, "w-1", datetime.now(UTC), done, total)

    running = jobs.get(job.id)
    directory = tmp_path / "partial"
    assert export(container.episodes, running, directory, 250, beat) is None
    assert beats == [200]  # it stopped at the first heartbeat after the cancel
    assert not directory.exists()
    assert jobs.get(job.id).state == "cancelled"


def test_an_erased_or_unknown_job_id_reads_as_nothing(container):
    assert container.interop.exports.get(UUID(int=1)) is None
    assert container.interop.exports.cancel(UUID(int=1), datetime.now(UTC)) is None
