"""Maintained totals for the audit summary: what each episode adds to the counters.

An episode's contribution is a set of entries (counter, due) -> [findings,
episodes]: `due` is None for what counts at once, else the instant a time-based
finding falls due (or an episode becomes old enough to judge a share). An
episode counts once per counter, at its earliest due. The projection keeps each
key's contribution in its state and turns the difference between the old and
the new one into `Increment`s of COUNTERS (by due bucket) and rows of DUES (the
exact instants, for the part of today a reader's clock has reached).

Buckets: "" for at once; for a due instant its UTC year "Y2026", month
"M2026-03" and day "D2026-03-02", each incremented, so a reader sums whole
years before this one, months of this year before this one and days of this
month before today: a bounded number of rows whatever the number of episodes.

Counter names join words with single spaces (ids never contain whitespace):
"episodes", "exempt", "any", "rule R1", "severity high", "referrer ID",
"referrer-rule R1 ID", "referrer-episodes ID", "surgeon ID", "surgeon-rule R1 ID",
"surgeon-episodes ID", "share KEY eligible", "share KEY met".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from projections.base import Change, Column, Increment, Put, Remove, Table
from projections.referral_audit.findings import Finding

Entries = dict[tuple[str, datetime | None], list[int]]

COUNTERS = Table(
    name="counters",
    columns=(
        Column("counter", "text", nullable=False),
        Column("bucket", "text", nullable=False),
        Column("findings", "integer", nullable=False),
        Column("episodes", "integer", nullable=False),
    ),
    key=("counter", "bucket"),
    # Covering: the summary reads ranges of buckets from the index alone, so the
    # rows it touches stay few and close together however large the table grows.
    indexes=(("bucket", "counter", "findings", "episodes"),),
    counters=True,
)

# The due instants of time-based entries, per episode and scope: a reader adds
# those of today up to its clock to the buckets before today.
DUES = Table(
    name="dues",
    columns=(
        Column("episode_id", "text", nullable=False),
        Column("scope", "text", nullable=False),
        Column("counter", "text", nullable=False),
        Column("due_at", "timestamp", nullable=False),
        Column("findings", "integer", nullable=False),
        Column("episodes", "integer", nullable=False),
    ),
    key=("episode_id", "scope", "counter", "due_at"),
    indexes=(("due_at", "counter", "findings", "episodes"),),
)

# How many episodes have each value of a pathway metric: medians without rows.
HISTOGRAM = Table(
    name="histogram",
    columns=(
        Column("metric", "text", nullable=False),
        Column("value", "real", nullable=False),
        Column("n", "integer", nullable=False),
    ),
    key=("metric", "value"),
    counters=True,
)

MEDIANS = (
    "days_to_pain_generator",
    "days_to_surgery_referral",
    "injections_before_surgery_referral",
    "conservative_care_weeks",
)


def finding_counters(
    rule: str, severity: str, referrer: str, surgeon: str | None
) -> list[str]:
    """The counters one finding adds to: its rule, severity, the episode total,
    the referrer it is charged to and, for R1-R4 and R9, its surgeon."""
    names = ["any", f"rule {rule}", f"severity {severity}"]
    names += [f"referrer {referrer}", f"referrer-rule {rule} {referrer}"]
    if surgeon:
        names += [f"surgeon {surgeon}", f"surgeon-rule {rule} {surgeon}"]
    return names


def add_findings(
    entries: Entries, findings: Iterable[Finding], referrer: str
) -> Entries:
    """Each finding counted at its due, each counter's episode at its earliest."""
    earliest: dict[str, datetime | None] = {}
    for finding in findings:
        due = finding.fires_at
        charged = finding.referrer_id or referrer
        for name in finding_counters(
            finding.rule, finding.severity.value, charged, finding.surgeon_id
        ):
            entries.setdefault((name, due), [0, 0])[0] += 1
            if name not in earliest or _before(due, earliest[name]):
                earliest[name] = due
    for name, due in earliest.items():
        entries.setdefault((name, due), [0, 0])[1] += 1
    return entries


def count_episode(entries: Entries, name: str, due: datetime | None = None) -> Entries:
    """Count the episode once in `name` (a denominator or a share)."""
    entries.setdefault((name, due), [0, 0])[1] += 1
    return entries


def earliest_dues(entries: Entries, names: Iterable[str]) -> dict[str, datetime | None]:
    """For each of these counters the episode is counted in, when it counts."""
    wanted = set(names)
    return {
        name: due
        for (name, due), (_, episodes) in entries.items()
        if name in wanted and episodes > 0
    }


def stored(entries: Entries) -> list[list[Any]]:
    """Entries as a JSON-able list for a state."""
    return [
        [name, due, f, e] for (name, due), (f, e) in sorted(entries.items(), key=_order)
    ]


def loaded(items: Sequence[Sequence[Any]] | None) -> Entries:
    """Entries as `stored` kept them."""
    return {(name, due): [f, e] for name, due, f, e in items or ()}


def changes(episode_id: str, scope: str, old: Entries, new: Entries) -> list[Change]:
    """The increments from `old` to `new`, and the due rows that differ.

    The scope's due rows are those of `old` (the stored contribution) with a due
    and a count: a changed one is put again, one gone or counting nothing is
    removed, and the others are left as they are.
    """
    found: list[Change] = []
    for key in sorted(set(old) | set(new), key=_key_order):
        before, after = old.get(key, [0, 0]), new.get(key, [0, 0])
        delta = {"findings": after[0] - before[0], "episodes": after[1] - before[1]}
        if not any(delta.values()):
            continue
        name, due = key
        for bucket in buckets(due):
            found.append(
                Increment(COUNTERS.name, {"counter": name, "bucket": bucket}, delta)
            )
        if due is None:
            continue
        row = {"episode_id": episode_id, "scope": scope, "counter": name, "due_at": due}
        if after[0] or after[1]:
            found.append(
                Put(DUES.name, {**row, "findings": after[0], "episodes": after[1]})
            )
        elif before[0] or before[1]:
            found.append(Remove(DUES.name, row))
    return found


def histogram_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """Move the episode's values of the median metrics in the histogram."""
    found: list[Change] = []
    for metric in MEDIANS:
        before, after = old.get(metric), new.get(metric)
        if before == after:
            continue
        for value, n in ((before, -1), (after, 1)):
            if value is not None:
                key = {"metric": metric, "value": float(value)}
                found.append(Increment(HISTOGRAM.name, key, {"n": n}))
    return found


def buckets(due: datetime | None) -> tuple[str, ...]:
    """The counter buckets an entry due at `due` is added to."""
    if due is None:
        return ("",)
    day = due.astimezone(UTC).date()
    return (
        f"Y{day.year:04d}",
        f"M{day.year:04d}-{day.month:02d}",
        f"D{day.isoformat()}",
    )


def bucket_ranges(now: datetime) -> list[tuple[str, str]]:
    """[low, high) ranges of the buckets wholly before the reader's `now` (UTC):
    past years, this year's past months, this month's past days."""
    today = now.astimezone(UTC).date()
    year, month = f"{today.year:04d}", f"{today.month:02d}"
    return [
        ("Y", f"Y{year}"),
        (f"M{year}-01", f"M{year}-{month}"),
        (f"D{year}-{month}-01", f"D{today.isoformat()}"),
    ]


def _before(due: datetime | None, other: datetime | None) -> bool:
    if due is None:
        return other is not None
    return other is not None and due < other


def _key_order(key: tuple[str, datetime | None]) -> tuple[str, str]:
    name, due = key
    return name, "" if due is None else due.isoformat()


def _order(item: tuple[tuple[str, datetime | None], list[int]]) -> tuple[str, str]:
    return _key_order(item[0])
