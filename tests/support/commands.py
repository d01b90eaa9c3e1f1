"""The one command table of the tests: each command, a body for it, its event and
its HTTP route."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from api.schemas.commands import EPISODE_COMMANDS as ROUTES
from domain import commands as cmd
from domain import events as ev
from tests.support import builders as b


@dataclass(frozen=True)
class CommandCase:
    """A command on an open episode with a valid body, the event it records and the
    path of its route under /episodes/{episode_id}/."""

    command: type[cmd.EpisodeCommand]
    body: Callable[..., dict[str, Any]]
    event: type[ev.EpisodeEvent]

    @property
    def path(self) -> str:
        return PATHS[self.command]

    @property
    def id(self) -> str:
        return self.command.__name__


PATHS = {schema.command: schema.path for schema in ROUTES}

COMMANDS: tuple[CommandCase, ...] = (
    CommandCase(cmd.ReceiveReferral, b.further_referral, ev.ReferralReceived),
    CommandCase(cmd.ScreenRedFlags, b.screening, ev.RedFlagsScreened),
    CommandCase(cmd.RecordDiagnostic, b.mri, ev.DiagnosticCompleted),
    CommandCase(
        cmd.RecordConservativeCare, b.conservative_care, ev.ConservativeCareRecorded
    ),
    CommandCase(cmd.PlanTreatment, b.plan, ev.TreatmentPlanned),
    CommandCase(cmd.PerformIntervention, b.esi, ev.InterventionPerformed),
    CommandCase(cmd.AdministerBiologic, b.prp, ev.BiologicAdministered),
    CommandCase(cmd.RecordOutcome, b.outcome, ev.OutcomeRecorded),
    CommandCase(cmd.ReferToSurgery, b.surgery_referral, ev.SurgeryReferred),
    CommandCase(cmd.SendConsultNote, b.consult_note, ev.ConsultNoteSent),
    CommandCase(cmd.AssignClinician, b.assignment, ev.ClinicianAssigned),
    CommandCase(cmd.CloseEpisode, b.closure, ev.EpisodeClosed),
)
assert {case.command for case in COMMANDS} == set(cmd.EPISODE_COMMANDS)


def case_for(command_type: type[cmd.EpisodeCommand]) -> CommandCase:
    """The table's row for one command."""
    return next(case for case in COMMANDS if case.command is command_type)


def case_at(path: str) -> CommandCase:
    """The table's row for the command routed at `path`."""
    return next(case for case in COMMANDS if case.path == path)
