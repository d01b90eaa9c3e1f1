"""The worklist's parameters: every due offset and window in one versioned value.

DOMAIN.md "Worklist tasks" gives the defaults; each parameter names its source.
Changing any of them changes the open tasks, so it needs a new `version` (and a
new projection version, which rebuilds the worklist from position 0).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from types import MappingProxyType

from projections.clinical.parameters import Evidence, block_profile

DOMAIN = "DOMAIN.md Worklist tasks"


@dataclass(frozen=True)
class Due:
    """How long after its trigger a task falls due, and who says so."""

    after: timedelta
    source: str


@dataclass(frozen=True)
class FollowUp:
    """One follow-up point after a treatment: when it is due, and the window in
    which an outcome answers it (whole days after the treatment, both included)."""

    label: str
    name: str
    due: Due
    window_days: tuple[int, int]


@dataclass(frozen=True)
class WorklistRules:
    """Every offset, window and closing condition the worklist's tasks use."""

    version: int
    triage: Mapping[str, Due]
    """Red flag -> how soon it must be triaged; flags not named take `triage_other`."""
    triage_other: Due
    triage_closing_urgencies: frozenset[str]
    screening: Due
    baseline_outcome: Due
    diagnostics: Due
    plan: Due
    biologic_follow_ups: tuple[FollowUp, ...]
    intervention_follow_ups: tuple[FollowUp, ...]
    consult_note: Due
    consult_note_referrers: frozenset[str]
    surgical_consult: Due
    surgical_consult_answerers: frozenset[str]
    escalating_kinds: frozenset[str]
    """Kinds whose priority is high once overdue (judged when read)."""
    evidence: Evidence
    """What must back a pain generator before it counts as identified."""

    def triage_due(self, flag: str) -> Due:
        """How soon a red flag must be triaged."""
        return self.triage.get(flag, self.triage_other)

    @property
    def profile(self) -> str:
        """The active diagnostic block profile's name."""
        return self.evidence.blocks.name


def _days(days: int, source: str) -> Due:
    return Due(timedelta(days=days), source)


REGISTRY = "American Spine Registry / ICHOM low back pain follow-up points"
BIOLOGICS = "DOMAIN.md Regenerative biologics default follow-ups"

RULES_V1 = WorklistRules(
    version=1,
    triage=MappingProxyType(
        {
            # Cauda equina: emergency referral, MRI within 4 h (NICE NG59 / DOMAIN
            # red flags); infection: imaging within 6 h when the neurological
            # exam is normal (ACR Appropriateness Criteria low back pain 2021).
            "cauda_equina": Due(timedelta(hours=4), f"{DOMAIN}; NICE NG59"),
            "infection": Due(timedelta(hours=6), f"{DOMAIN}; ACR 2021"),
        }
    ),
    # Fracture, malignancy, progressive deficit: urgent, same day (DOMAIN.md 24 h).
    triage_other=Due(timedelta(hours=24), DOMAIN),
    # DOMAIN.md: an emergent or urgent surgery referral answers a red flag.
    triage_closing_urgencies=frozenset({"emergent", "urgent"}),
    screening=_days(2, DOMAIN),
    baseline_outcome=_days(7, DOMAIN),
    diagnostics=_days(14, DOMAIN),
    plan=_days(7, DOMAIN),
    # Biologics: safety check at 2 weeks, outcomes at 6 weeks, 3, 6 and 12 months
    # (DOMAIN.md biologics; the registries' baseline / 90 days / 1 year points).
    biologic_follow_ups=(
        FollowUp("2w", "2-week safety check", _days(14, BIOLOGICS), (7, 21)),
        FollowUp("6w", "6-week outcome", _days(42, BIOLOGICS), (28, 56)),
        FollowUp("3m", "3-month outcome", _days(90, REGISTRY), (60, 120)),
        FollowUp("6m", "6-month outcome", _days(180, REGISTRY), (150, 210)),
        FollowUp("12m", "12-month outcome", _days(365, REGISTRY), (300, 420)),
    ),
    # Interventions: 6 weeks, the audit's R8 window (6 weeks +/- 2).
    intervention_follow_ups=(
        FollowUp("6w", "6-week outcome", _days(42, DOMAIN), (28, 56)),
    ),
    # The referral loop closes with a letter within 14 days (DOMAIN.md R10).
    consult_note=_days(14, f"{DOMAIN}; rule R10"),
    consult_note_referrers=frozenset({"primary_care", "concierge"}),
    surgical_consult=_days(30, DOMAIN),
    surgical_consult_answerers=frozenset({"spine_surgery"}),
    escalating_kinds=frozenset({"outcome_due"}),
    evidence=Evidence(block_profile("payer")),
)


def worklist_rules(profile: str = "payer") -> WorklistRules:
    """Rules v1 with the named diagnostic block profile ("payer" or "nhs")."""
    return replace(RULES_V1, evidence=Evidence(block_profile(profile)))
