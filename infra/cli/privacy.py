"""`care-episodes keys …` and `care-episodes erase`: the master key and erasure."""

from __future__ import annotations

from typing import Annotated

import typer

from domain.values import Actor, PrincipalRole
from infra.bootstrap import bootstrap
from infra.cli.context import existing_store, settings_of
from infra.cli.errors import UsageProblem
from infra.crypto import MasterKey
from infra.encryption import data_keys
from infra.erasure import ErasureRefused, erase_patient

keys_app = typer.Typer(help="The master key that wraps every patient's data key.")


@keys_app.command("generate")
def generate() -> None:
    """Print a new random master key (base64), for CARE_MASTER_KEY."""
    typer.echo(MasterKey.generate().text)


@keys_app.command("status")
def status(ctx: typer.Context) -> None:
    """Which master key wraps how many data keys (by fingerprint, never the key)."""
    with bootstrap(existing_store(settings_of(ctx))) as container:
        keys = data_keys(container.episodes)
        if keys is None:
            raise UsageProblem("encryption is off here (CARE_ENCRYPT_EVENTS=false)")
        typer.echo(f"current master key {keys.master.id}")
        for master_id, count in sorted(keys.masters_in_use().items()):
            mark = " (current)" if master_id == keys.master.id else ""
            typer.echo(f"{master_id}: {count} keys{mark}")


@keys_app.command("rotate")
def rotate(ctx: typer.Context) -> None:
    """Re-wrap every data key under the current master key (CARE_MASTER_KEY), the
    old one given in CARE_PREVIOUS_MASTER_KEYS; events are not re-encrypted."""
    with bootstrap(existing_store(settings_of(ctx))) as container:
        keys = data_keys(container.episodes)
        if keys is None:
            raise UsageProblem("encryption is off here (CARE_ENCRYPT_EVENTS=false)")
        done = keys.rotate()
    typer.echo(
        f"re-wrapped {done} keys under master key {keys.master.id}; "
        "the previous master key may now be retired"
    )


def erase_command(
    ctx: typer.Context,
    patient_id: Annotated[str, typer.Argument(help="the patient's pseudonymous id")],
    requested_by: Annotated[
        str, typer.Option(help="the auditor who asks for the erasure")
    ],
    approved_by: Annotated[str, typer.Option(help="the second person who approved it")],
    reason: Annotated[str, typer.Option(help="the request or ground for it")],
    yes: Annotated[
        bool, typer.Option("--yes", help="do not ask for confirmation")
    ] = False,
) -> None:
    """Crypto-shred one patient: delete their data keys, so their events stay (and
    verify) but can never be read again. Asks for the patient id to be typed again."""
    if not yes:
        typed = typer.prompt(
            f"This cannot be undone. Type the patient id ({patient_id}) to erase"
        )
        if typed != patient_id:
            raise UsageProblem("the patient id typed does not match: nothing erased")
    actor = Actor(requested_by, PrincipalRole.AUDITOR)
    with bootstrap(existing_store(settings_of(ctx))) as container:
        try:
            done = erase_patient(
                container.episodes,
                patient_id,
                requested_by=actor,
                approved_by=approved_by,
                reason=reason,
            )
        except ErasureRefused as error:
            raise UsageProblem(error.message) from None
    typer.echo(
        f"erased patient {patient_id}: {len(done.episodes)} episodes, "
        f"{done.data_keys} data keys deleted (erasure {done.erasure_id})"
    )
