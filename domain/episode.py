"""The CareEpisode aggregate: one patient's journey, and the rules it enforces."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

from domain import events as ev
from domain import payloads
from domain.errors import EpisodeClosedError, IdempotencyKeyReused, RuleViolation
from domain.guards import MEASURABLE_EVENTS, check_aware, check_not_future
from domain.values import (
    ClosureReason,
    Envelope,
    EpisodeStatus,
    Idempotency,
    PainGenerator,
    RedFlag,
    Referrer,
    Service,
)


class CareEpisode(Aggregate):
    """One patient's care episode, from the first referral to its closure."""

    def __init__(self) -> None:
        self.patient_id = ""
        self.referrer: Referrer | None = None
        self.opened_at: datetime | None = None
        self.last_occurred_at: datetime | None = None
        self.status = EpisodeStatus.OPEN
        self.closure_reason: ClosureReason | None = None
        self.pathway: list[Service] = []
        self.red_flags: list[RedFlag] = []
        self.screened = False
        self.pain_generators: list[PainGenerator] = []
        self.assignee_id: str | None = None
        self.assignee_name: str | None = None
        self.entries: list[ev.EpisodeEntry] = []
        self.idempotency_keys: dict[str, tuple[int, str]] = {}

    @classmethod
    def open(cls, episode_id: UUID, envelope: Envelope, **referral: Any) -> CareEpisode:
        """Open an episode with the first referral (see payloads.first_referral)."""
        check_aware(envelope.occurred_at)
        check_not_future(envelope.occurred_at, envelope.now)
        data = payloads.first_referral(occurred_at=envelope.occurred_at, **referral)
        return cls._create(
            ev.ReferralReceived,
            id=episode_id,
            actor=envelope.actor,
            occurred_at=envelope.occurred_at,
            idempotency=envelope.idempotency,
            **data,
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

    def check_can_record(self, envelope: Envelope) -> None:
        """Refuse events on a closed episode and clinical times out of bounds."""
        if self.status is EpisodeStatus.CLOSED:
            raise EpisodeClosedError(self.id)
        occurred_at = check_aware(envelope.occurred_at)
        check_not_future(occurred_at, envelope.now)
        assert self.opened_at is not None
        if occurred_at < self.opened_at:
            msg = (
                f"occurred_at {occurred_at.isoformat()} is before the episode "
                f"opened ({self.opened_at.isoformat()})"
            )
            raise RuleViolation(msg, field="occurred_at")

    def _record(
        self, event_class: type[ev.EpisodeEvent], envelope: Envelope, data: dict
    ) -> None:
        extra: dict[str, Any] = {}
        if event_class is ev.ReferralReceived:
            # A later referral reuses the opening event type; it names the class.
            extra = {
                "originator_topic": get_topic(type(self)),
                "patient_id": self.patient_id,
            }
        self.trigger_event(
            event_class,
            actor=envelope.actor,
            occurred_at=envelope.occurred_at,
            idempotency=envelope.idempotency,
            **extra,
            **data,
        )

    # -- commands ---------------------------------------------------------------

    def receive_referral(self, envelope: Envelope, **fields: Any) -> None:
        """A further service receives the patient; the pathway grows."""
        self.check_can_record(envelope)
        self._record(ev.ReferralReceived, envelope, payloads.further_referral(**fields))

    def screen_red_flags(self, envelope: Envelope, **fields: Any) -> None:
        """Record a red-flag screen and its disposition."""
        self.check_can_record(envelope)
        self._record(ev.RedFlagsScreened, envelope, payloads.red_flag_screen(**fields))

    def record_diagnostic(self, envelope: Envelope, **fields: Any) -> None:
        """Record a completed diagnostic (imaging, EMG, block, exam ...)."""
        self.check_can_record(envelope)
        self._record(ev.DiagnosticCompleted, envelope, payloads.diagnostic(**fields))

    def record_conservative_care(self, envelope: Envelope, **fields: Any) -> None:
        """Record a course of conservative care."""
        self.check_can_record(envelope)
        data = payloads.conservative_course(occurred_at=envelope.occurred_at, **fields)
        self._record(ev.ConservativeCareRecorded, envelope, data)

    def plan_treatment(self, envelope: Envelope, **fields: Any) -> None:
        """Set a treatment plan."""
        self.check_can_record(envelope)
        self._record(ev.TreatmentPlanned, envelope, payloads.treatment_plan(**fields))

    def perform_intervention(self, envelope: Envelope, **fields: Any) -> None:
        """Record a therapeutic procedure."""
        self.check_can_record(envelope)
        self._record(
            ev.InterventionPerformed, envelope, payloads.intervention(**fields)
        )

    def administer_biologic(self, envelope: Envelope, **fields: Any) -> None:
        """Record a regenerative biologic."""
        self.check_can_record(envelope)
        self._record(ev.BiologicAdministered, envelope, payloads.biologic(**fields))

    def record_outcome(self, envelope: Envelope, **fields: Any) -> None:
        """Record a patient-reported outcome; a follow-up names what it measures."""
        self.check_can_record(envelope)
        data = payloads.outcome(**fields)
        measured_version = data["follows_version"]
        if measured_version is not None:
            measured = self.entry_at(measured_version)
            if measured is None or measured.type not in MEASURABLE_EVENTS:
                msg = (
                    f"follows_version {measured_version} is not an intervention, "
                    "biologic or course of conservative care on this episode"
                )
                raise RuleViolation(msg, field="follows_version")
            if envelope.occurred_at < measured.occurred_at:
                msg = (
                    f"an outcome following version {measured_version} cannot have "
                    f"occurred before it ({measured.occurred_at.isoformat()})"
                )
                raise RuleViolation(msg, field="occurred_at")
        self._record(ev.OutcomeRecorded, envelope, data)

    def refer_to_surgery(self, envelope: Envelope, **fields: Any) -> None:
        """Refer the patient to a spine surgeon, with a justification."""
        self.check_can_record(envelope)
        self._record(ev.SurgeryReferred, envelope, payloads.surgery_referral(**fields))

    def send_consult_note(self, envelope: Envelope, **fields: Any) -> None:
        """Record that the referring physician was sent a consult note."""
        self.check_can_record(envelope)
        self._record(ev.ConsultNoteSent, envelope, payloads.consult_note(**fields))

    def assign_clinician(self, envelope: Envelope, **fields: Any) -> None:
        """Give the episode's work to a clinician."""
        self.check_can_record(envelope)
        self._record(ev.ClinicianAssigned, envelope, payloads.assignment(**fields))

    def close(self, envelope: Envelope, **fields: Any) -> None:
        """Close the episode; nothing may be recorded after this."""
        self.check_can_record(envelope)
        self._record(ev.EpisodeClosed, envelope, payloads.closure(**fields))

    # -- state the events maintain ------------------------------------------------

    def add_red_flags(self, flags: Iterable[RedFlag]) -> None:
        for flag in flags:
            if flag not in self.red_flags:
                self.red_flags.append(flag)

    def entry_at(self, version: int) -> ev.EpisodeEntry | None:
        """The entry recorded at `version`, if any."""
        if 1 <= version <= len(self.entries):
            return self.entries[version - 1]
        return None

    def entries_of(self, *types: str) -> list[ev.EpisodeEntry]:
        """Entries of the given event types, in version order."""
        return [entry for entry in self.entries if entry.type in types]

    @property
    def is_closed(self) -> bool:
        return self.status is EpisodeStatus.CLOSED
