"""Amendments: a correction of an earlier event, checked as that event was.

An amendment names the version it corrects and the fields it changes. The
corrected event is the amended event's current value (earlier amendments
applied) with those fields replaced, built again through the event's own
command, so each field is parsed and each rule spanning fields is checked
exactly as when the event was first recorded: an amended diagnostic is checked
like a new diagnostic. Naming an amendment's version amends the event that
amendment corrected.

Not amendable: the episode's patient (it decides whose key seals the record,
and whose episodes these are), a referrer's id (it decides who may read the
episode; a referrer's name and role may be corrected), and an erasure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from domain import commands as cmd
from domain import events as ev
from domain.errors import InvalidCommand, RuleViolation
from domain.events import EpisodeEvent, EventAmended
from domain.guards import check_not_future

# The command an event of each type was recorded by (a later referral's: see
# `command_for`).
COMMAND_OF: dict[str, type[cmd.Command]] = {
    "ReferralReceived": cmd.OpenEpisode,
    "RedFlagsScreened": cmd.ScreenRedFlags,
    "DiagnosticCompleted": cmd.RecordDiagnostic,
    "ConservativeCareRecorded": cmd.RecordConservativeCare,
    "TreatmentPlanned": cmd.PlanTreatment,
    "InterventionPerformed": cmd.PerformIntervention,
    "BiologicAdministered": cmd.AdministerBiologic,
    "OutcomeRecorded": cmd.RecordOutcome,
    "SurgeryReferred": cmd.ReferToSurgery,
    "ConsultNoteSent": cmd.SendConsultNote,
    "ClinicianAssigned": cmd.AssignClinician,
    "EpisodeClosed": cmd.CloseEpisode,
}
MEASURABLE = frozenset(
    {"ConservativeCareRecorded", "InterventionPerformed", "BiologicAdministered"}
)
NOT_AMENDABLE = {
    "patient_id": "the patient of an episode cannot be amended: record the "
    "referral on the right patient's episode and close this one",
}


@dataclass(frozen=True)
class Recorded:
    """One event of the episode as it now stands (its amendments applied)."""

    type: str
    occurred_at: datetime
    payload: dict[str, Any]


@dataclass(frozen=True)
class Correction:
    """What an amendment records: the corrected fields and the event after them."""

    amends_version: int
    amends_type: str
    fields: dict[str, Any]
    corrected: dict[str, Any]
    corrected_occurred_at: datetime


def record_of(events: Iterable[EpisodeEvent]) -> dict[int, Recorded]:
    """Every event of an episode as it now stands (amendments applied), by version;
    an amendment is held by its own version too, naming the version it corrects."""
    record: dict[int, Recorded] = {}
    for event in events:
        version = event.originator_version
        if isinstance(event, EventAmended):
            corrected = Recorded(
                event.amends_type, event.corrected_occurred_at, dict(event.corrected)
            )
            record[event.amends_version] = corrected
            data = {"amends_version": event.amends_version}
            record[version] = Recorded("EventAmended", event.occurred_at, data)
        else:
            record[version] = Recorded(
                type(event).__name__, event.occurred_at, event.data
            )
    return record


def command_for(version: int, event_type: str) -> type[cmd.Command]:
    """The command whose fields an event at `version` of `event_type` has."""
    if event_type == "ReferralReceived" and version > 1:
        return cmd.ReceiveReferral
    try:
        return COMMAND_OF[event_type]
    except KeyError:
        msg = f"a {event_type} cannot be amended"
        raise RuleViolation(msg, field="amends_version") from None


def amendable_fields(version: int, event_type: str) -> list[str]:
    """The fields an amendment of this event may correct (clinical time included)."""
    command_type = command_for(version, event_type)
    return [
        f.name
        for f in dataclasses.fields(command_type)
        if f.name != "episode_id" and f.name not in NOT_AMENDABLE
    ]


def correct(
    episode_id: UUID, version: int, current: Recorded, fields: Mapping[str, Any]
) -> Correction:
    """The event at `version` corrected by `fields`, checked by its own command."""
    allowed = amendable_fields(version, current.type)
    for name in fields:
        if name in NOT_AMENDABLE:
            raise InvalidCommand(NOT_AMENDABLE[name], field=f"fields.{name}")
        if name not in allowed:
            msg = (
                f"fields.{name}: a {current.type} has no field {name} to amend "
                f"(amendable: {', '.join(sorted(allowed))})"
            )
            raise InvalidCommand(msg, field=f"fields.{name}")
    command_type = command_for(version, current.type)
    names = {f.name for f in dataclasses.fields(command_type)}
    merged: dict[str, Any] = {
        name: value for name, value in current.payload.items() if name in names
    }
    merged["occurred_at"] = current.occurred_at
    merged.update(_from_json(command_type, fields))
    if issubclass(command_type, cmd.EpisodeCommand):
        merged["episode_id"] = episode_id
    try:
        command = command_type(**merged)
    except InvalidCommand as error:
        field = f"fields.{error.field}" if error.field else "fields"
        raise InvalidCommand(error.message, field=field) from None
    corrected = {**current.payload, **command.payload()}
    normalised = {name: getattr(command, name) for name in fields}
    if corrected == current.payload and command.occurred_at == current.occurred_at:
        msg = f"the amendment changes nothing: version {version} already holds these values"
        raise RuleViolation(msg, field="fields")
    return Correction(
        amends_version=version,
        amends_type=current.type,
        fields=normalised,
        corrected=corrected,
        corrected_occurred_at=command.occurred_at,
    )


def target(
    episode_id: UUID, record: Mapping[int, Recorded], version: int
) -> tuple[int, Recorded]:
    """The event an amendment of `version` corrects (an amendment's own target)."""
    current = record.get(version)
    while current is not None and current.type == "EventAmended":
        version = current.payload["amends_version"]
        current = record.get(version)
    if current is None:
        msg = f"episode {episode_id} has no version {version} to amend"
        raise RuleViolation(msg, field="amends_version")
    if current.type not in COMMAND_OF:
        raise RuleViolation(
            f"a {current.type} cannot be amended", field="amends_version"
        )
    return version, current


def check_referrer_kept(current: Recorded, correction: Correction) -> None:
    """A referral's referrer id decides who may read the episode: it stays."""
    if correction.amends_type != "ReferralReceived":
        return
    before, after = current.payload["referrer"], correction.corrected["referrer"]
    if before.id != after.id:
        msg = (
            f"a referrer's id cannot be amended ({before.id} would become {after.id}): "
            "it decides who may read the episode; correct the name or role only"
        )
        raise RuleViolation(msg, field="fields.referrer.id")


def check_clinical_times(
    record: Mapping[int, Recorded],
    correction: Correction,
    opened_at: datetime,
    now: datetime,
) -> None:
    """The corrected clinical time keeps the episode's rules: not in the future,
    nothing before the opening, and no outcome before the treatment it follows."""
    version, moment = correction.amends_version, correction.corrected_occurred_at
    check_not_future(moment, now, "fields.occurred_at")
    if version == 1:
        for other, event in sorted(record.items()):
            if other != 1 and event.type in COMMAND_OF and event.occurred_at < moment:
                msg = (
                    f"occurred_at {moment.isoformat()} would put the opening after "
                    f"version {other} ({event.occurred_at.isoformat()})"
                )
                raise RuleViolation(msg, field="fields.occurred_at")
    elif moment < opened_at:
        msg = (
            f"occurred_at {moment.isoformat()} is before the episode opened "
            f"({opened_at.isoformat()})"
        )
        raise RuleViolation(msg, field="fields.occurred_at")
    if correction.amends_type == "OutcomeRecorded":
        _check_follows(record, correction.corrected.get("follows_version"), moment)
    if correction.amends_type in MEASURABLE:
        _check_followers(record, version, moment)


def _check_followers(
    record: Mapping[int, Recorded], version: int, moment: datetime
) -> None:
    for other, event in sorted(record.items()):
        follows = event.payload.get("follows_version")
        if event.type != "OutcomeRecorded" or follows != version:
            continue
        if event.occurred_at < moment:
            msg = (
                f"occurred_at {moment.isoformat()} would put version {version} "
                f"after the outcome at version {other} that follows it "
                f"({event.occurred_at.isoformat()})"
            )
            raise RuleViolation(msg, field="fields.occurred_at")


def _check_follows(
    record: Mapping[int, Recorded], follows: int | None, moment: datetime
) -> None:
    if follows is None:
        return
    treatment = record.get(follows)
    if treatment is None or treatment.type not in MEASURABLE:
        msg = (
            f"follows_version {follows} is not an intervention, "
            "biologic or course of conservative care on this episode"
        )
        raise RuleViolation(msg, field="fields.follows_version")
    if moment < treatment.occurred_at:
        msg = (
            f"an outcome following version {follows} cannot have occurred "
            f"before it ({treatment.occurred_at.isoformat()})"
        )
        raise RuleViolation(msg, field="fields.occurred_at")


def _from_json(
    command_type: type[cmd.Command], fields: Mapping[str, Any]
) -> dict[str, Any]:
    """ISO-8601 text of a date or time field as the value its command parses
    (a body's JSON has no dates); text that is not ISO is left to the parser,
    which names the field."""
    kinds = {f.name: str(f.type) for f in dataclasses.fields(command_type)}
    values = dict(fields)
    for name, value in fields.items():
        kind = kinds.get(name, "")
        if not isinstance(value, str):
            continue
        try:
            if kind.startswith("datetime"):
                values[name] = datetime.fromisoformat(value)
            elif kind.startswith("date"):
                values[name] = date.fromisoformat(value)
        except ValueError:
            pass
    return values


EVENT_CLASSES: dict[str, type[EpisodeEvent]] = {
    cls.__name__: cls for cls in ev.EVENT_TYPES
}


def corrected_event(amendment: EventAmended) -> EpisodeEvent:
    """The amended event as the amendment leaves it: its type, version and
    clinical time, the corrected data, recorded when and by whom the amendment
    was. Read models fold it in place of the event it corrects."""
    cls = EVENT_CLASSES[amendment.amends_type]
    extra: dict[str, Any] = {}
    if issubclass(cls, ev.ReferralReceived):
        extra["originator_topic"] = "domain.episode:CareEpisode"
    event: EpisodeEvent = cls(  # type: ignore[call-arg]
        originator_id=amendment.originator_id,
        originator_version=amendment.amends_version,
        timestamp=amendment.timestamp,
        actor=amendment.actor,
        occurred_at=amendment.corrected_occurred_at,
        idempotency=None,
        **extra,
        **amendment.corrected,
    )
    return event
