"""What the referral-loop audit unit tests share: an episode's audit row as a reader sees it."""

from __future__ import annotations

from datetime import datetime

from domain import commands as cmd
from projections.referral_audit import (
    EPISODES,
    FINDINGS,
    RULES_V1,
    AuditRules,
    ReferralAuditProjection,
    audit_row,
)
from tests.support import builders as b
from tests.support.fold import project

LATER = b.at(3650)  # a reader's clock past every deadline
EMERGENCY = {"id": "dr-ed-1", "name": "Dr Emergency", "role": "emergency"}


def audit(episode, now: datetime = LATER, rules: AuditRules = RULES_V1) -> dict:
    """The episode's audit row (DESIGN §4 shape), projected in memory, read at `now`."""
    views = project(ReferralAuditProjection(rules), episode)
    [row] = views[EPISODES.name].values()
    return audit_row(row, views[FINDINGS.name].values(), now, rules)


def findings(episode, rule: str, **when) -> list[dict]:
    """The findings of one rule on the episode's audit row."""
    return [f for f in audit(episode, **when)["findings"] if f["rule"] == rule]


def fired(episode, **when) -> set[str]:
    """Every rule with a finding on the episode's audit row (read at `now`)."""
    return {f["rule"] for f in audit(episode, **when)["findings"]}


def referred(episode, days: float = 60, **overrides):
    """The episode referred to a surgeon `days` after T0 (elective by default)."""
    return b.record(
        episode, cmd.ReferToSurgery, b.surgery_referral(**overrides), days=days
    )


def red_flag_then_urgent_referral(episode, days: float):
    """A fracture found at screening, then an urgent surgery referral a day later."""
    b.record(episode, cmd.ScreenRedFlags, b.screening(flags=["fracture"]), days=days)
    return referred(episode, days + 1, urgency="urgent", indication="red_flag")
