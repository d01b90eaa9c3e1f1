"""The commands of a care episode: one frozen, typed dataclass per event.

A command is data: what the caller asks to record, checked and normalised when it
is built (each field by the parser it declares, then the checks that span
fields), so an invalid one cannot exist. Checks that need the episode's state
(closed, clinical time before the opening, what an outcome follows) belong to the
aggregate. `CareEpisodes.handle` takes any of them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from domain import guards as g
from domain.errors import InvalidCommand
from domain.values import (
    AgeBand,
    BiologicProduct,
    CareResponse,
    ClosureReason,
    ConservativeModality,
    DiagnosticKind,
    Disposition,
    Indication,
    Instrument,
    PainGenerator,
    PlanItem,
    Presentation,
    Procedure,
    RedFlag,
    Referrer,
    RegenerativeOption,
    Region,
    Service,
    Side,
    Surgeon,
    SurgicalIntent,
    Urgency,
    parse_enum,
    parse_enums,
    parse_levels,
)

Payload = dict[str, Any]
Parser = Callable[[Any, str], Any]
E = TypeVar("E", bound=Enum)


def parsed(parse: Parser, **options: Any) -> Any:
    """A command field checked and normalised by `parse(value, field_name)`."""
    return dataclasses.field(metadata={"parse": parse}, **options)


def one_of(enum_cls: type[E]) -> Parser:
    return lambda value, name: parse_enum(enum_cls, value, name)


def optional(parse: Parser) -> Parser:
    return lambda value, name: None if value is None else parse(value, name)


def some_of(enum_cls: type[E]) -> Parser:
    return lambda value, name: parse_enums(enum_cls, value, name)


def text(max_len: int = g.MAX_TEXT) -> Parser:
    return lambda value, name: g.check_text(value, name, max_len=max_len)


def count(maximum: int) -> Parser:
    return lambda value, name: g.check_count(value, name, maximum)


def levels(value: Any, name: str) -> list[str]:
    return parse_levels(value, name)


def flag(value: Any, _name: str) -> bool:
    return bool(value)


@dataclass(frozen=True, kw_only=True)
class Command:
    """Every command says when it happened in the clinic (an aware datetime)."""

    name: ClassVar[str]
    """The command's stable name: idempotency fingerprints and metrics use it."""

    occurred_at: datetime = parsed(g.check_aware)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            parse = f.metadata.get("parse")
            if parse is not None:
                # Frozen: a command normalises its own fields once, while built.
                object.__setattr__(self, f.name, parse(getattr(self, f.name), f.name))
        self.check()

    def check(self) -> None:
        """Checks that span several fields (each field is parsed already)."""

    def payload(self) -> Payload:
        """The event's clinical fields: every field but the clinical time and the id."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in ("occurred_at", "episode_id")
        }


@dataclass(frozen=True, kw_only=True)
class EpisodeCommand(Command):
    """A command on an episode that is already open."""

    episode_id: UUID


@dataclass(frozen=True, kw_only=True)
class OpenEpisode(Command):
    """The referral that opens an episode (ReferralReceived, version 1)."""

    name = "open_episode"

    patient_id: str = parsed(g.check_identifier)
    referrer: Referrer = parsed(g.check_referrer)
    receiving_service: Service = parsed(one_of(Service))
    reason: str = parsed(text())
    presentation: Presentation | None = parsed(
        optional(one_of(Presentation)), default=None
    )
    symptom_onset: date | None = parsed(optional(g.check_date), default=None)
    insurance_mandated: bool = parsed(flag, default=False)
    red_flags: Sequence[RedFlag] = parsed(some_of(RedFlag), default=())
    age_band: AgeBand | None = parsed(optional(one_of(AgeBand)), default=None)

    def check(self) -> None:
        onset, referred = self.symptom_onset, self.occurred_at.date()
        if onset is not None and onset > referred:
            msg = (
                f"symptom_onset {onset.isoformat()} is after the referral "
                f"({referred.isoformat()})"
            )
            raise InvalidCommand(msg, field="symptom_onset")


@dataclass(frozen=True, kw_only=True)
class ReceiveReferral(EpisodeCommand):
    """A later referral: the patient moves to (or back to) a service."""

    name = "receive_referral"

    referrer: Referrer = parsed(g.check_referrer)
    receiving_service: Service = parsed(one_of(Service))
    reason: str = parsed(text())

    def payload(self) -> Payload:
        # The same event as the opening referral; a later one carries no intake.
        return {
            **super().payload(),
            "presentation": None,
            "symptom_onset": None,
            "insurance_mandated": False,
            "red_flags": [],
            "age_band": None,
        }


@dataclass(frozen=True, kw_only=True)
class ScreenRedFlags(EpisodeCommand):
    """A red-flag screen and its disposition (RedFlagsScreened)."""

    name = "screen_red_flags"

    flags: Sequence[RedFlag] = parsed(some_of(RedFlag), default=())
    disposition: Disposition = parsed(one_of(Disposition))


@dataclass(frozen=True, kw_only=True)
class RecordDiagnostic(EpisodeCommand):
    """A completed diagnostic; only a block states the relief it gave."""

    name = "record_diagnostic"

    kind: DiagnosticKind = parsed(one_of(DiagnosticKind))
    region: Region = parsed(one_of(Region))
    levels: Sequence[str] = parsed(levels, default=())
    relief_percent: int | None = None
    findings: str = parsed(g.check_optional_text, default="")
    pain_generator: PainGenerator | None = parsed(
        lambda value, name: (
            None
            if value in (None, "", "none")
            else parse_enum(PainGenerator, value, name)
        ),
        default=None,
    )

    def check(self) -> None:
        relief, kind = self.relief_percent, self.kind
        if kind.is_block and relief is None:
            msg = f"a {kind.value} must record relief_percent"
            raise InvalidCommand(msg, field="relief_percent")
        if not kind.is_block and relief is not None:
            msg = f"relief_percent applies to diagnostic blocks, not to {kind.value}"
            raise InvalidCommand(msg, field="relief_percent")
        if relief is not None:
            g.check_percent(relief, "relief_percent")


@dataclass(frozen=True, kw_only=True)
class RecordConservativeCare(EpisodeCommand):
    """A course of conservative care; its dates must make sense."""

    name = "record_conservative_care"

    modality: ConservativeModality = parsed(one_of(ConservativeModality))
    started_on: date = parsed(g.check_date)
    ended_on: date | None = parsed(optional(g.check_date), default=None)
    sessions: int | None = parsed(optional(count(g.MAX_SESSIONS)), default=None)
    response: CareResponse | None = parsed(optional(one_of(CareResponse)), default=None)

    def check(self) -> None:
        started, ended = self.started_on, self.ended_on
        if started > self.occurred_at.date():
            msg = (
                f"started_on {started} is after the event occurred ({self.occurred_at})"
            )
            raise InvalidCommand(msg, field="started_on")
        if ended is not None and ended < started:
            msg = f"ended_on {ended} is before started_on {started}"
            raise InvalidCommand(msg, field="ended_on")


def plan_items(value: Any, name: str) -> list[PlanItem]:
    if not value:
        raise InvalidCommand("a treatment plan needs at least one item", field=name)
    return [g.check_plan_item(item) for item in value]


@dataclass(frozen=True, kw_only=True)
class PlanTreatment(EpisodeCommand):
    """A plan: at least one item, its goals, and where regenerative care stands."""

    name = "plan_treatment"

    items: Sequence[PlanItem] = parsed(plan_items)
    goals: str = parsed(text())
    regenerative_option: RegenerativeOption = parsed(one_of(RegenerativeOption))


@dataclass(frozen=True, kw_only=True)
class PerformIntervention(EpisodeCommand):
    """A therapeutic procedure; all but an SI-joint injection name their levels."""

    name = "perform_intervention"

    procedure: Procedure = parsed(one_of(Procedure))
    region: Region = parsed(one_of(Region))
    levels: Sequence[str] = parsed(levels, default=())
    side: Side | None = parsed(optional(one_of(Side)), default=None)
    image_guided: bool = parsed(flag, default=True)

    def check(self) -> None:
        if not self.levels and self.procedure is not Procedure.SI_JOINT_INJECTION:
            msg = f"a {self.procedure.value} must name the levels treated"
            raise InvalidCommand(msg, field="levels")


def volume(value: Any, name: str) -> Decimal:
    ml = g.check_decimal(value, name)
    if not Decimal(0) < ml <= g.MAX_BIOLOGIC_ML:
        msg = f"{name} must be above 0 and at most {g.MAX_BIOLOGIC_ML}, not {ml}"
        raise InvalidCommand(msg, field=name)
    return ml


@dataclass(frozen=True, kw_only=True)
class AdministerBiologic(EpisodeCommand):
    """A regenerative biologic: target and lot number keep the product traceable."""

    name = "administer_biologic"

    product: BiologicProduct = parsed(one_of(BiologicProduct))
    target: str = parsed(text(g.MAX_NAME))
    levels: Sequence[str] = parsed(levels, default=())
    volume_ml: Decimal = parsed(volume)
    lot_number: str = parsed(text(g.MAX_ID))
    image_guided: bool = parsed(flag, default=True)


def version_number(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidCommand(
            f"{name} must be a version number, not {value!r}", field=name
        )
    return value


@dataclass(frozen=True, kw_only=True)
class RecordOutcome(EpisodeCommand):
    """A patient-reported outcome, in range for its instrument."""

    name = "record_outcome"

    instrument: Instrument = parsed(one_of(Instrument))
    score: Decimal = parsed(g.check_decimal)
    follows_version: int | None = parsed(optional(version_number), default=None)

    def check(self) -> None:
        low, high = self.instrument.score_range
        if not low <= self.score <= high:
            msg = (
                f"a {self.instrument.value} score must be from {low} to {high}, "
                f"not {self.score}"
            )
            raise InvalidCommand(msg, field="score")


def justification(value: Any, name: str) -> str:
    if len(str(value or "").strip()) < g.MIN_JUSTIFICATION:
        msg = (
            "a surgery referral needs a justification "
            f"(at least {g.MIN_JUSTIFICATION} characters saying why)"
        )
        raise InvalidCommand(msg, field=name)
    return g.check_text(value, name)


@dataclass(frozen=True, kw_only=True)
class ReferToSurgery(EpisodeCommand):
    """A referral to a spine surgeon, which must say why."""

    name = "refer_to_surgery"

    surgeon: Surgeon = parsed(g.check_surgeon)
    urgency: Urgency = parsed(one_of(Urgency))
    intent: SurgicalIntent = parsed(one_of(SurgicalIntent))
    indication: Indication = parsed(one_of(Indication))
    justification: str = parsed(justification)


@dataclass(frozen=True, kw_only=True)
class SendConsultNote(EpisodeCommand):
    """A consult note sent to a physician (ConsultNoteSent)."""

    name = "send_consult_note"

    to_physician_id: str = parsed(g.check_identifier)
    summary: str = parsed(text())


@dataclass(frozen=True, kw_only=True)
class AssignClinician(EpisodeCommand):
    """A clinician takes the episode's work (ClinicianAssigned)."""

    name = "assign_clinician"

    clinician_id: str = parsed(g.check_identifier)
    clinician_name: str = parsed(text(g.MAX_NAME))


@dataclass(frozen=True, kw_only=True)
class CloseEpisode(EpisodeCommand):
    """The episode ends (EpisodeClosed); nothing may be recorded after it."""

    name = "close"

    reason: ClosureReason = parsed(one_of(ClosureReason))


# Every command that records an event on an open episode, in DESIGN.md §3 order.
EPISODE_COMMANDS: tuple[type[EpisodeCommand], ...] = (
    ReceiveReferral,
    ScreenRedFlags,
    RecordDiagnostic,
    RecordConservativeCare,
    PlanTreatment,
    PerformIntervention,
    AdministerBiologic,
    RecordOutcome,
    ReferToSurgery,
    SendConsultNote,
    AssignClinician,
    CloseEpisode,
)


MAX_AMENDED_FIELDS = 20


def amended_fields(value: Any, name: str) -> dict[str, Any]:
    """The fields an amendment corrects: a non-empty mapping of field names."""
    if not isinstance(value, Mapping) or not value:
        msg = f"{name} must name at least one field to correct, with its new value"
        raise InvalidCommand(msg, field=name)
    if len(value) > MAX_AMENDED_FIELDS:
        msg = f"{name} corrects at most {MAX_AMENDED_FIELDS} fields, not {len(value)}"
        raise InvalidCommand(msg, field=name)
    for key in value:
        if not isinstance(key, str) or not key.isidentifier():
            raise InvalidCommand(f"{name}: {key!r} is not a field name", field=name)
    return dict(value)


@dataclass(frozen=True, kw_only=True)
class AmendEvent(EpisodeCommand):
    """Correct fields of an earlier event (EventAmended); the original stays.

    `occurred_at` is when the correction was made; a corrected clinical time of
    the amended event goes in `fields` as "occurred_at". The corrected fields are
    checked by the amended event's own command (domain.amendments).
    """

    name = "amend_event"

    amends_version: int = parsed(version_number)
    fields: Mapping[str, Any] = parsed(amended_fields)
    reason: str = parsed(text())


@dataclass(frozen=True, kw_only=True)
class EraseEpisode(EpisodeCommand):
    """Record that the episode's patient data is being erased (EpisodeErased)."""

    name = "erase_episode"

    erasure_id: UUID
