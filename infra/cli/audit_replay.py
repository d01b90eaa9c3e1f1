"""`care-episodes audit replay` and `audit check-evidence`: how the audit judged one
episode at a version or instant, under any rule set, and an evidence packet's check."""

from __future__ import annotations

import json
import os
import pwd
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import typer
from rich.console import Console
from rich.table import Table

from domain.errors import EpisodeNotFound, PatientDataErased
from domain.plain import plain
from infra.audit_replay import AuditReplays, check_evidence, load_packet
from infra.bootstrap import Container, bootstrap
from infra.cli.context import existing_store, settings_of
from infra.cli.errors import FOUND, UsageProblem
from infra.verify import load_heads
from projections.referral_audit.replay import Cut, replay_rules

ACTION = "CLI audit replay"


def replay_command(
    ctx: typer.Context,
    episode: Annotated[str, typer.Argument(help="the episode's id")],
    version: Annotated[
        int | None,
        typer.Option("--version", min=1, help="judge the episode's first N events"),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="judge the events recorded by this ISO-8601 instant"
        ),
    ] = None,
    rules: Annotated[
        str | None,
        typer.Option("--rules", help="block profile: payer or nhs (default: deployed)"),
    ] = None,
    rules_version: Annotated[
        int | None,
        typer.Option("--rules-version", help="rule set 1 or 2 (default: deployed)"),
    ] = None,
    timeline: Annotated[
        bool, typer.Option("--timeline", help="when each finding appeared or cleared")
    ] = False,
    evidence: Annotated[
        Path | None,
        typer.Option("--evidence", help="write the evidence packet (JSON) here"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """The audit row of one episode replayed from its events (or its timeline, or
    its evidence packet); the read is written to the access log."""
    episode_id = _uuid(episode)
    cut = Cut(version=version, as_of=_instant(as_of) if as_of else None)
    if version is not None and as_of is not None:
        raise UsageProblem("give --version or --as-of, not both")
    now = datetime.now(UTC)
    with bootstrap(existing_store(settings_of(ctx))) as container:
        replays = AuditReplays.of(container)
        try:
            ruleset = replay_rules(rules_version, rules, default=replays.rules)
        except ValueError as error:
            raise UsageProblem(str(error)) from None
        try:
            if evidence is not None:
                packet = replays.evidence(episode_id, now, cut=cut, rules=ruleset)
            elif timeline:
                steps = replays.timeline(episode_id, cut, ruleset)
            else:
                replay = replays.replay(episode_id, cut, ruleset)
        except (EpisodeNotFound, PatientDataErased) as error:
            _log(container, episode_id, "not_found")
            raise UsageProblem(str(error)) from None
        _log(container, episode_id, "disclosed")
    if evidence is not None:
        evidence.write_text(json.dumps(packet, indent=1, ensure_ascii=False))
        typer.echo(f"wrote the evidence packet of {episode_id} to {evidence}")
    elif timeline:
        _print_timeline(steps, as_json)
    else:
        row = replay.audit_row(now)
        if as_json:
            pending = replay.pending(now)
            typer.echo(json.dumps(plain({**row, "pending": pending}), indent=1))
        else:
            _print_row(row, replay.version, ruleset.version, ruleset.profile)


def check_evidence_command(
    packet: Annotated[Path, typer.Argument(help="an evidence packet (JSON)")],
    heads: Annotated[
        Path | None,
        typer.Option("--heads", help="chain heads a `verify --save-heads` run kept"),
    ] = None,
) -> None:
    """Recompute every hash-chain link of an evidence packet; exit 1 if one fails."""
    try:
        document = load_packet(packet)
        saved = load_heads(heads) if heads else None
        problems = check_evidence(document, saved)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UsageProblem(f"{packet}: not an evidence packet ({error})") from None
    for problem in problems:
        typer.echo(f"FAILED     {problem}")
    events = len(document["history"])
    verdict = "OK" if not problems else f"FAILED ({len(problems)} problem(s))"
    typer.echo(
        f"checked {events} chain links of episode {document['episode_id']}: {verdict}"
    )
    if problems:
        raise typer.Exit(FOUND)


def _log(container: Container, episode_id: UUID, outcome: str) -> None:
    """The terminal's read of patient data, in the access log like an API read."""
    container.access_log.record(
        principal_id=f"cli:{pwd.getpwuid(os.getuid()).pw_name}",
        role="operator",
        action=ACTION,
        episode_ids=[episode_id],
        request_id=None,
        outcome=outcome,
    )


def _uuid(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise UsageProblem(f"{text!r} is not an episode id") from None


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageProblem(f"--as-of {text!r} is not an ISO-8601 instant") from None
    if moment.utcoffset() is None:
        raise UsageProblem(f"--as-of {text!r} has no UTC offset")
    return moment


def _print_row(row: dict[str, Any], version: int, rules: int, profile: str) -> None:
    table = Table(
        title=f"Episode {row['episode_id']} at v{version}: {len(row['findings'])} "
        f"finding(s) (rules v{rules}, {profile} profile)",
        caption=f"pathway: {' -> '.join(row['pathway'])}",
    )
    for column in ("rule", "name", "severity", "at", "detail"):
        table.add_column(column, justify="right" if column == "at" else "left")
    for f in row["findings"]:
        table.add_row(
            f["rule"], f["name"], f["severity"], f"v{f['at_version']}", f["detail"]
        )
    _console().print(table)


def _print_timeline(steps: list[Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps([plain(vars(step)) for step in steps], indent=1))
        return
    table = Table(title="When each finding appeared or cleared")
    for column in ("version", "event", "recorded", "appeared", "cleared", "changed"):
        table.add_column(column)
    for step in steps:
        table.add_row(
            f"v{step.version}",
            step.type or "(another episode of the patient)",
            f"{step.recorded_at:%Y-%m-%d %H:%M}",
            *(
                ", ".join(f"{f['rule']}@v{f['at_version']}" for f in found) or "-"
                for found in (step.appeared, step.cleared, step.changed)
            ),
        )
    _console().print(table)


def _console() -> Console:
    return Console(width=None if Console().is_terminal else 160)
