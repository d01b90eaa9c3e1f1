"""R5 across a patient's episodes, judged on the patient's key ("patient:<id>").

Each episode with ESIs sends the patient its ESI facts (each with its
episode_id) and when it already counts in the counters R5 also adds to. The
patient's state keeps every episode's note; its `settle` counts the sessions of
all of them (`rules_v2.r5_esi_frequency_exceeded`), replaces each episode's
patient-scope finding rows and keeps the summary exact: R5 findings add to the
counters, and an episode the episode's own findings count only from a later due
instant is moved to "at once" (a correction of its own, kept per episode).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from projections.base import Change, Handled, Message, Put, Remove, State
from projections.erasure import ERASED
from projections.referral_audit import totals
from projections.referral_audit.findings import R5, Finding
from projections.referral_audit.rules_v2 import AuditRulesV2, r5_esi_frequency_exceeded
from projections.referral_audit.tables import FINDINGS, PATIENT_SCOPE, finding_row

PREFIX = "patient:"


def patient_key(patient_id: str) -> str:
    """The state key of a patient."""
    return f"{PREFIX}{patient_id}"


def union_counters(referrer_id: str) -> tuple[str, ...]:
    """The counters an R5 finding shares with an episode's own findings."""
    return ("any", f"severity {R5.severity.value}", f"referrer {referrer_id}")


def note(
    state: State, esis: Sequence[Mapping[str, Any]], entries: totals.Entries
) -> dict[str, Any]:
    """What an episode tells its patient: its ESIs and where it already counts."""
    referrer = state["referrer"]["id"]
    return {
        "episode_id": state["episode_id"],
        "referrer_id": referrer,
        "opened_at": state["opened_at"],
        "esis": [{**esi, "episode_id": state["episode_id"]} for esi in esis],
        "counted": totals.earliest_dues(entries, union_counters(referrer)),
    }


def received(key: str, state: State | None, message: Message) -> Handled:
    """The patient's state with one episode's latest note."""
    state = state or {
        "patient_id": key.removeprefix(PREFIX),
        "episodes": {},
        "corrections": {},
    }
    episodes = {**state["episodes"], message.data["episode_id"]: dict(message.data)}
    if message.data.get(ERASED):
        del episodes[message.data["episode_id"]]
    return Handled({**state, "episodes": episodes})


def settled(state: State, rules: AuditRulesV2) -> Handled:
    """R5 over all of the patient's sessions: finding rows and counter corrections."""
    esis = [esi for episode in state["episodes"].values() for esi in episode["esis"]]
    found: dict[str, list[Finding]] = defaultdict(list)
    for episode_id, finding in r5_esi_frequency_exceeded(esis, rules):
        found[episode_id].append(finding)
    changes: list[Change] = []
    corrections: dict[str, Any] = {}
    # An erased episode's corrections are taken back (it has no note any more).
    for episode_id in sorted({*state["episodes"], *state["corrections"]}):
        episode = state["episodes"].get(episode_id)
        old = totals.loaded(state["corrections"].get(episode_id))
        mine = found.get(episode_id, []) if episode else []
        new = (
            corrections_of(mine, episode["counted"], episode["referrer_id"])
            if episode
            else {}
        )
        if old or new:
            match = {"episode_id": episode_id, "scope": PATIENT_SCOPE}
            changes.append(Remove(FINDINGS.name, match))
            changes += [
                Put(FINDINGS.name, finding_row(episode, f, PATIENT_SCOPE)) for f in mine
            ]
            changes += totals.changes(episode_id, PATIENT_SCOPE, old, new)
        if new:
            corrections[episode_id] = totals.stored(new)
    if not state["episodes"]:
        return Handled(None, changes)  # every episode erased: the patient goes too
    return Handled({**state, "corrections": corrections}, changes)


def corrections_of(
    findings: Sequence[Finding],
    counted: Mapping[str, datetime | None],
    referrer_id: str,
) -> totals.Entries:
    """What an episode's R5 findings add to the counters: the findings at once,
    and the episode counted at once where its own findings count it later."""
    if not findings:
        return {}
    n = len(findings)
    entries: totals.Entries = {
        ("rule R5", None): [n, 1],
        (f"referrer-rule R5 {referrer_id}", None): [n, 1],
    }
    for name in union_counters(referrer_id):
        entry = entries.setdefault((name, None), [0, 0])
        entry[0] += n
        if name not in counted:
            entry[1] += 1
        elif counted[name] is not None:
            entry[1] += 1
            entries.setdefault((name, counted[name]), [0, 0])[1] -= 1
    return entries
