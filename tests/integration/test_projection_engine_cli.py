"""`care-episodes projections status | rebuild | retry` on SQLite and PostgreSQL.

The commands run on the projections the deployment registers (infra.catalog), as
in production. To fail one, a test's own engine runs the referral audit with a
handler that cannot take one patient's referral (as a deployed bug would).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
from typer.testing import CliRunner

from domain.events import EpisodeEvent
from infra.bootstrap import Container, bootstrap
from infra.cli import app as cli
from infra.projection import Engine
from projections.base import Handled, Projection, State
from projections.referral_audit import ReferralAuditProjection
from tests.support import projections as ps
from tests.support.fold import expected_views

AUDIT = ReferralAuditProjection.name


class FragileAudit(ReferralAuditProjection):
    """The referral audit, except that it cannot handle one patient's referral."""

    def handle(
        self, state: State | None, event: EpisodeEvent, position: int
    ) -> Handled:
        if getattr(event, "patient_id", None) == ps.POISON:
            raise ValueError("cannot audit this referral")
        return super().handle(state, event, position)


@pytest.fixture
def deployed(settings) -> Iterator[Container]:
    """The store as a process of the deployment opens it: its projections and views."""
    with bootstrap(settings) as container:
        yield container


@pytest.fixture
def run(settings):
    """Invoke `care-episodes projections …` on the test store."""
    return lambda *args: CliRunner().invoke(cli, ["projections", *args], obj=settings)


def caught_up(store, settings, projections: Sequence[Projection]) -> None:
    worker = Engine(store, settings, projections, ps.FAST)
    worker.catch_up()
    worker.close()


def fragile(deployed: Container) -> FragileAudit:
    audit = deployed.projection(AUDIT)
    assert isinstance(audit, ReferralAuditProjection)
    return FragileAudit(audit.rules)


def test_status_lists_each_projection_with_its_lag_and_last_error(
    store, settings, deployed, run
):
    poison = ps.poisoned_store(store)
    caught_up(store, settings, [fragile(deployed)])

    result = run("status")

    assert result.exit_code == 0, result.output
    for projection in deployed.projections:
        assert projection.name in result.output
    assert "failed" in result.output
    assert f"last error at position {poison}" in result.output


def test_rebuild_switches_to_a_new_generation_and_says_so(
    store, settings, deployed, run
):
    ps.seed(store, episodes=3)
    caught_up(store, settings, deployed.projections)

    result = run("rebuild", AUDIT)

    assert result.exit_code == 0, result.output
    head = store.recorder.max_notification_id()
    audit = deployed.projection(AUDIT)
    expected = f"generation 2 (version {audit.version}) now serves, at position {head}"
    assert f"{AUDIT}: {expected}" in result.output
    assert ps.actual_views(deployed.read_models, audit) == expected_views(store, audit)


def test_rebuild_of_an_unknown_projection_names_the_known_ones(store, run):
    result = run("rebuild", "nope")

    assert result.exit_code == 2
    assert "no projection 'nope'" in result.output
    assert AUDIT in result.output


def test_retry_lets_a_failed_projection_resume(store, settings, deployed, run):
    # given the audit stopped at a referral its handler could not take
    ps.poisoned_store(store)
    caught_up(store, settings, [fragile(deployed)])
    # when it is retried
    result = run("retry", AUDIT)
    # then it says so, and the deployed handler resumes from the failed event
    assert result.exit_code == 0, result.output
    assert "resumes from the failed event" in result.output
    caught_up(store, settings, deployed.projections)
    audit = deployed.projection(AUDIT)
    [status] = [s for s in deployed.read_models.status() if s.name == AUDIT]
    assert status.state != "failed"
    assert status.position == store.recorder.max_notification_id()
    assert ps.actual_views(deployed.read_models, audit) == expected_views(store, audit)
    assert "not failed" in run("retry", AUDIT).output
