"""The CareEpisode aggregate: the rules one patient's episode enforces.

It keeps only what those rules decide on (when it opened, whether it is closed,
which treatments an outcome may follow, the idempotency keys applied, who
referred the patient). The episode as a reader sees it is a fold of the events in
`domain.reading`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

from domain import amendments as am
from domain import commands as cmd
from domain import events as ev
from domain.errors import (
    EpisodeClosedError,
    IdempotencyKeyReused,
    PatientDataErased,
    RuleViolation,
)
from domain.guards import check_not_future
from domain.records import IndexEntry
from domain.values import Envelope, Idempotency


class CareEpisode(Aggregate):
    """One patient's care episode, from the first referral to its closure."""

    # Set on an episode only when they apply, so the state of most holds neither.
    erased: bool = False
    assignment_version: int | None = None
    """The version of the assignment that made the current assignee."""

    def __init__(self) -> None:
        self.patient_id = ""
        self.opened_at: datetime | None = None
        self.closed = False
        self.assignee_id: str | None = None
        self.referrer_ids: list[str] = []
        # Versions of the treatments an outcome may follow, with their clinical
        # time; keyed by the version as text so snapshots round-trip.
        self.measurable: dict[str, datetime] = {}
        self.idempotency_keys: dict[str, tuple[int, str]] = {}

    def __deepcopy__(self, memo: dict[int, Any]) -> CareEpisode:
        """The copy a command decides on, taken from the application's aggregate
        cache (the library copies every cached aggregate it hands out).

        The state is atoms (text, numbers, flags, instants, ids, tuples of them)
        held in lists and dicts, so copying each container copies it deeply, in
        a few microseconds where `copy.deepcopy` walks every atom (~150 us for an
        episode with ten idempotency keys)."""
        copied = object.__new__(type(self))
        copied.__dict__.update(
            (name, value.copy() if isinstance(value, list | dict) else value)
            for name, value in self.__dict__.items()
        )
        memo[id(self)] = copied
        return copied

    @classmethod
    def open(
        cls, episode_id: UUID, envelope: Envelope, command: cmd.OpenEpisode
    ) -> CareEpisode:
        """Open an episode with its first referral."""
        check_not_future(command.occurred_at, envelope.now)
        return cls._create(
            ev.ReferralReceived,
            id=episode_id,
            actor=envelope.actor,
            occurred_at=command.occurred_at,
            idempotency=envelope.idempotency,
            **command.payload(),
        )

    def index_entry(self) -> IndexEntry:
        """What the store indexes of this episode as it now stands."""
        assert self.opened_at is not None
        return IndexEntry(
            episode_id=self.id,
            patient_id=self.patient_id,
            opened_at=self.opened_at,
            status="closed" if self.closed else "open",
            assignee_id=self.assignee_id,
            referrer_ids=tuple(self.referrer_ids),
            version=self.version,
        )

    # -- rules every later command obeys ---------------------------------------

    def replayed_version(self, idempotency: Idempotency | None) -> int | None:
        """The version an idempotency key already produced, or None if it is new."""
        if idempotency is None or idempotency.key not in self.idempotency_keys:
            return None
        version, fingerprint = self.idempotency_keys[idempotency.key]
        if fingerprint != idempotency.fingerprint:
            raise IdempotencyKeyReused(idempotency.key)
        return version

    def check_can_record(
        self, envelope: Envelope, occurred_at: datetime, *, closed_too: bool = False
    ) -> None:
        """Refuse events on a closed (or erased) episode and clinical times out of
        bounds; `closed_too` admits a closed episode (amendments, erasure)."""
        if self.erased:
            raise PatientDataErased(self.id)
        if self.closed and not closed_too:
            raise EpisodeClosedError(self.id)
        check_not_future(occurred_at, envelope.now)
        assert self.opened_at is not None
        if occurred_at < self.opened_at:
            msg = (
                f"occurred_at {occurred_at.isoformat()} is before the episode "
                f"opened ({self.opened_at.isoformat()})"
            )
            raise RuleViolation(msg, field="occurred_at")

    def check_follows(self, command: cmd.RecordOutcome) -> None:
        """An outcome's follows_version names an earlier treatment of this episode."""
        version = command.follows_version
        if version is None:
            return
        treated_at = self.measurable.get(str(version))
        if treated_at is None:
            msg = (
                f"follows_version {version} is not an intervention, "
                "biologic or course of conservative care on this episode"
            )
            raise RuleViolation(msg, field="follows_version")
        if command.occurred_at < treated_at:
            msg = (
                f"an outcome following version {version} cannot have "
                f"occurred before it ({treated_at.isoformat()})"
            )
            raise RuleViolation(msg, field="occurred_at")

    # -- commands ---------------------------------------------------------------

    def receive_referral(
        self, envelope: Envelope, command: cmd.ReceiveReferral
    ) -> None:
        """A further service receives the patient; the pathway grows."""
        # A later referral reuses the opening event type; it names the class.
        self._record(
            ev.ReferralReceived,
            envelope,
            command,
            originator_topic=get_topic(type(self)),
            patient_id=self.patient_id,
        )

    def screen_red_flags(self, envelope: Envelope, command: cmd.ScreenRedFlags) -> None:
        """Record a red-flag screen and its disposition."""
        self._record(ev.RedFlagsScreened, envelope, command)

    def record_diagnostic(
        self, envelope: Envelope, command: cmd.RecordDiagnostic
    ) -> None:
        """Record a completed diagnostic (imaging, EMG, block, exam ...)."""
        self._record(ev.DiagnosticCompleted, envelope, command)

    def record_conservative_care(
        self, envelope: Envelope, command: cmd.RecordConservativeCare
    ) -> None:
        """Record a course of conservative care."""
        self._record(ev.ConservativeCareRecorded, envelope, command)

    def plan_treatment(self, envelope: Envelope, command: cmd.PlanTreatment) -> None:
        """Set a treatment plan."""
        self._record(ev.TreatmentPlanned, envelope, command)

    def perform_intervention(
        self, envelope: Envelope, command: cmd.PerformIntervention
    ) -> None:
        """Record a therapeutic procedure."""
        self._record(ev.InterventionPerformed, envelope, command)

    def administer_biologic(
        self, envelope: Envelope, command: cmd.AdministerBiologic
    ) -> None:
        """Record a regenerative biologic."""
        self._record(ev.BiologicAdministered, envelope, command)

    def record_outcome(self, envelope: Envelope, command: cmd.RecordOutcome) -> None:
        """Record a patient-reported outcome; a follow-up names what it measures."""
        self.check_can_record(envelope, command.occurred_at)
        self.check_follows(command)
        self._trigger(ev.OutcomeRecorded, envelope, command)

    def refer_to_surgery(self, envelope: Envelope, command: cmd.ReferToSurgery) -> None:
        """Refer the patient to a spine surgeon, with a justification."""
        self._record(ev.SurgeryReferred, envelope, command)

    def send_consult_note(
        self, envelope: Envelope, command: cmd.SendConsultNote
    ) -> None:
        """Record that a referring physician was sent a consult note."""
        self._record(ev.ConsultNoteSent, envelope, command)

    def assign_clinician(
        self, envelope: Envelope, command: cmd.AssignClinician
    ) -> None:
        """Give the episode's work to a clinician."""
        self._record(ev.ClinicianAssigned, envelope, command)

    def close(self, envelope: Envelope, command: cmd.CloseEpisode) -> None:
        """Close the episode; nothing may be recorded after this."""
        self._record(ev.EpisodeClosed, envelope, command)

    def amend(
        self,
        envelope: Envelope,
        command: cmd.AmendEvent,
        record: Mapping[int, am.Recorded],
    ) -> None:
        """Correct an earlier event; the original stays as it was recorded.

        `record` is every event of the episode as it now stands (the application
        folds it from the events: the aggregate keeps no per-event data). A closed
        episode may still be corrected: an amendment adds no clinical event.
        """
        self.check_can_record(envelope, command.occurred_at, closed_too=True)
        version, current = am.target(self.id, record, command.amends_version)
        correction = am.correct(self.id, version, current, command.fields)
        am.check_referrer_kept(current, correction)
        assert self.opened_at is not None
        am.check_clinical_times(record, correction, self.opened_at, envelope.now)
        self.trigger_event(
            ev.EventAmended,
            actor=envelope.actor,
            occurred_at=command.occurred_at,
            idempotency=envelope.idempotency,
            reason=command.reason,
            **vars(correction),
        )

    def erase(self, envelope: Envelope, command: cmd.EraseEpisode) -> None:
        """Record that the patient's data is being erased; nothing may follow."""
        self.check_can_record(envelope, command.occurred_at, closed_too=True)
        self._trigger(ev.EpisodeErased, envelope, command)

    def amended(self, event: ev.EventAmended) -> None:
        """Apply a correction to the decision state."""
        version, moment = event.amends_version, event.corrected_occurred_at
        if version == 1:
            self.opened_at = moment
        if str(version) in self.measurable:
            self.measurable[str(version)] = moment
        if version == self.assignment_version:
            self.assignee_id = event.corrected["clinician_id"]

    def _record(
        self,
        event_class: type[ev.EpisodeEvent],
        envelope: Envelope,
        command: cmd.EpisodeCommand,
        **extra: object,
    ) -> None:
        self.check_can_record(envelope, command.occurred_at)
        self._trigger(event_class, envelope, command, **extra)

    def _trigger(
        self,
        event_class: type[ev.EpisodeEvent],
        envelope: Envelope,
        command: cmd.EpisodeCommand,
        **extra: object,
    ) -> None:
        self.trigger_event(
            event_class,
            actor=envelope.actor,
            occurred_at=command.occurred_at,
            idempotency=envelope.idempotency,
            **extra,
            **command.payload(),
        )
