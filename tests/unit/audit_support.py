"""What the referral-loop audit unit tests share: an episode's audit row as a reader sees it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from domain import commands as cmd
from projections.referral_audit import (
    EPISODES,
    FINDINGS,
    RULES_V1,
    AuditRules,
    ReferralAuditProjection,
    ReferralAuditProjectionV1,
    audit_row,
    audit_rules,
    report,
    totals,
)
from projections.referral_audit.tables import EPISODES as V2_EPISODES
from projections.referral_audit.tables import FINDINGS as V2_FINDINGS
from tests.support import builders as b
from tests.support.fold import project

LATER = b.at(3650)  # a reader's clock past every deadline
EMERGENCY = {"id": "dr-ed-1", "name": "Dr Emergency", "role": "emergency"}


def audit(episode, now: datetime = LATER, rules: AuditRules = RULES_V1) -> dict:
    """The episode's audit row (DESIGN §4 shape), projected in memory, read at `now`."""
    views = project(ReferralAuditProjectionV1(rules), episode)
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


# -- rule set v2 ---------------------------------------------------------------------

PROFILES = ("payer", "nhs")
PAIN = {"id": "dr-pm-1", "name": "Dr Pain", "role": "pain_medicine"}


def project_v2(*episodes, profile: str = "payer"):
    """The v2 projection's views of in-memory episodes, episode by episode."""
    return project(ReferralAuditProjection(audit_rules(profile)), *episodes)


def audit_v2(episode, now: datetime = LATER, profile: str = "payer") -> dict:
    """The episode's v2 audit row as a reader at `now` sees it."""
    return audit_rows_v2(episode, now=now, profile=profile)[str(episode.id)]


def audit_rows_v2(*episodes, now: datetime = LATER, profile: str = "payer") -> dict:
    """Every episode's v2 audit row, by episode id (R5 spans them)."""
    views = project_v2(*episodes, profile=profile)
    rules = audit_rules(profile)
    findings = list(views[V2_FINDINGS.name].values())
    return {
        row["episode_id"]: report.audit_row(
            row,
            [f for f in findings if f["episode_id"] == row["episode_id"]],
            now,
            rules,
        )
        for row in views[V2_EPISODES.name].values()
    }


def fired_v2(episode, **when) -> set[str]:
    """Every rule with a finding due on the episode's v2 row."""
    return {f["rule"] for f in audit_v2(episode, **when)["findings"]}


def findings_v2(episode, rule: str, **when) -> list[dict]:
    """The due findings of one rule on the episode's v2 row."""
    return [f for f in audit_v2(episode, **when)["findings"] if f["rule"] == rule]


def loop_episode(**overrides):
    """Primary care -> surgeon -> pain medicine -> an ESI -> surgeon, measured and
    answered (baseline, follow-up, consult note): only R1-R4 are left to judge."""
    episode = b.opened_episode(**overrides)
    b.record(episode, cmd.SendConsultNote, b.consult_note(), days=2)
    b.record(episode, cmd.ReceiveReferral, b.further_referral(), days=7)
    b.record(episode, cmd.RecordOutcome, b.outcome(score=46), days=8)
    b.record(episode, cmd.PerformIntervention, b.esi(), days=14)
    esi = episode.version
    follow_up = b.outcome(score=40, follows_version=esi)
    return b.record(episode, cmd.RecordOutcome, follow_up, days=56)


def worked_up(episode, mri_day: float = 20, care_from: date = date(2026, 3, 20)):
    """An MRI naming radicular pain and 7 weeks of physical therapy."""
    mri = b.mri(pain_generator="radicular", findings="L5-S1 disc herniation")
    b.record(episode, cmd.RecordDiagnostic, mri, days=mri_day)
    care = b.conservative_care(
        started_on=care_from, ended_on=care_from + timedelta(weeks=7)
    )
    return b.record(episode, cmd.RecordConservativeCare, care, days=65)


def summary_v2(*episodes, now: datetime = LATER, profile: str = "payer"):
    """The v2 summary of in-memory episodes from their totals, as the SQL view sums
    them: buckets wholly before today, today's due instants up to `now`, medians."""
    views = project_v2(*episodes, profile=profile)
    return summary_of_views(views, now, audit_rules(profile))


def summary_of_views(views, now: datetime, rules):
    """The summary the view would answer from these (folded) tables at `now`."""
    ranges = totals.bucket_ranges(now)
    counts: dict[str, list[int]] = {}
    for row in views[totals.COUNTERS.name].values():
        bucket = row["bucket"]
        if bucket == "" or any(low <= bucket < high for low, high in ranges):
            found = counts.setdefault(row["counter"], [0, 0])
            found[0] += row["findings"]
            found[1] += row["episodes"]
    today = now.astimezone(UTC).date()
    for row in views[totals.DUES.name].values():
        if row["due_at"].astimezone(UTC).date() == today and row["due_at"] <= now:
            found = counts.setdefault(row["counter"], [0, 0])
            found[0] += row["findings"]
            found[1] += row["episodes"]
    medians = {
        metric: report.median(
            {
                r["value"]: r["n"]
                for r in views[totals.HISTOGRAM.name].values()
                if r["metric"] == metric
            }
        )
        for metric in totals.MEDIANS
    }
    tallies = {name: (f, e) for name, (f, e) in counts.items()}
    return report.summary(tallies, medians, now, rules)
