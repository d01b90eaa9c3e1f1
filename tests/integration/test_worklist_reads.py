"""Reading the worklist on SQLite and PostgreSQL: every filter, the list order, keyset
paging as time passes and tasks come and go, and overdue judged at each `now`."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from domain import commands as cmd
from projections.worklist import is_overdue, shown_priority, task_item
from tests.integration.worklist_support import Clinic, clinic_fixture  # noqa: F401
from tests.support import builders as b

CONCIERGE = {"id": "dr-cc-1", "name": "Dr Concierge", "role": "concierge"}
PAIN = {"id": "dr-pm-1", "name": "Dr Pain", "role": "pain_medicine"}
BO = b.assignment(clinician_id="clin-bo", clinician_name="Bo Clinician")
NOW = b.at(20)
LATER = b.at(60)


@pytest.fixture
def seeded(clinic: Clinic) -> Clinic:
    """Four episodes: a red flag, an ESI, a biologic and surgery, two referrers."""
    one = clinic.open(red_flags=["infection"])
    clinic.do(one, cmd.AssignClinician, b.assignment(), hours=1)
    two = clinic.open(days=1, referrer=CONCIERGE, receiving_service="pain_medicine")
    clinic.do(two, cmd.AssignClinician, BO, days=1)
    clinic.do(two, cmd.PerformIntervention, b.esi(), days=3)
    three = clinic.open(days=2, referrer=PAIN, patient_id="pt-0003")
    clinic.do(three, cmd.ScreenRedFlags, b.screening(), days=2)
    clinic.do(three, cmd.AdministerBiologic, b.prp(), days=4)
    clinic.do(three, cmd.ReferToSurgery, b.surgery_referral(), days=6)
    four = clinic.open(days=5, patient_id="pt-0004")
    clinic.do(four, cmd.ReceiveReferral, b.further_referral(referrer=CONCIERGE), days=6)
    clinic.episodes = {"one": one, "two": two, "three": three, "four": four}  # type: ignore[attr-defined]
    clinic.referred = {  # type: ignore[attr-defined]
        "dr-pc-1": {str(one), str(four)},
        "dr-cc-1": {str(two), str(four)},
        "dr-pm-1": {str(three)},
    }
    return clinic


def listed(clinic: Clinic, now=NOW) -> list[dict[str, Any]]:
    """Every task as a reader sees it at `now`, in the order DOMAIN.md asks for."""
    rows = sorted(
        clinic.rows(), key=lambda r: (r["urgent_rank"], r["due_at"], r["task_id"])
    )
    return [task_item(row, now) for row in rows]


def ids(items) -> list[str]:
    return [item["task_id"] for item in items]


def test_the_list_is_urgent_first_then_longest_overdue_then_by_due_time(seeded: Clinic):
    page = seeded.page(now=NOW)
    assert ids(page) == ids(listed(seeded))
    assert page[0]["kind"] == "red_flag_triage"
    overdue = [t["overdue"] for t in page[1:]]
    assert overdue == sorted(overdue, reverse=True)  # overdue ones before the rest


FILTERS = [
    ({"assignee": "clin-ana"}, lambda t, s: t["assignee"] == "clin-ana"),
    ({"kind": "outcome_due"}, lambda t, s: t["kind"] == "outcome_due"),
    ({"priority": "urgent"}, lambda t, s: t["priority"] == "urgent"),
    ({"priority": "high"}, lambda t, s: t["priority"] == "high"),
    ({"priority": "normal"}, lambda t, s: t["priority"] == "normal"),
    ({"overdue": True}, lambda t, s: t["overdue"]),
    ({"overdue": False}, lambda t, s: not t["overdue"]),
    ({"due_before": b.at(16)}, lambda t, s: t["due_at"] < b.at(16)),
    ({"referrer_id": "dr-cc-1"}, lambda t, s: t["episode_id"] in s.referred["dr-cc-1"]),
    (
        {"physician_id": "dr-pc-1"},
        lambda t, s: t["episode_id"] in s.referred["dr-pc-1"],
    ),
    (
        {"physician_id": "dr-pc-1", "referrer_id": "dr-cc-1"},
        lambda t, s: t["episode_id"] in s.referred["dr-pc-1"] & s.referred["dr-cc-1"],
    ),
    (
        {"assignee": "clin-bo", "kind": "outcome_due", "overdue": False},
        lambda t, s: (
            t["assignee"] == "clin-bo"
            and t["kind"] == "outcome_due"
            and not t["overdue"]
        ),
    ),
    (
        {"referrer_id": "dr-pm-1", "priority": "normal", "due_before": b.at(40)},
        lambda t, s: (
            t["episode_id"] in s.referred["dr-pm-1"]
            and t["priority"] == "normal"
            and t["due_at"] < b.at(40)
        ),
    ),
]


@pytest.mark.parametrize(("filters", "keep"), FILTERS)
def test_each_filter_keeps_exactly_the_tasks_it_names_in_list_order(
    seeded: Clinic, filters, keep
):
    expected = [t for t in listed(seeded) if keep(t, seeded)]
    assert expected, "the seed has tasks for every filter"
    assert ids(seeded.page(now=NOW, **filters)) == ids(expected)


def test_the_episode_filter_keeps_one_episodes_tasks(seeded: Clinic):
    episode = str(seeded.episodes["three"])  # type: ignore[attr-defined]
    expected = [t for t in listed(seeded) if t["episode_id"] == episode]
    assert ids(seeded.page(now=NOW, episode_id=seeded.episodes["three"])) == ids(
        expected
    )  # type: ignore[attr-defined]


def walk_pages(clinic: Clinic, limit: int, nows=None, between=None, **filters):
    """Follow next keys to the end; `nows` gives each page's now, `between` runs
    after each page."""
    from projections.worklist import WorklistFilters

    seen, key, n = [], None, 0
    while True:
        now = nows(n) if nows else NOW
        rows, key = clinic.view.page(WorklistFilters(**filters), now, key, limit)
        seen += rows
        n += 1
        if between:
            between(n)
        if key is None:
            return seen


@pytest.mark.parametrize(
    "filters", [{}, {"referrer_id": "dr-cc-1"}, {"assignee": "clin-bo"}]
)
def test_keyset_pages_walk_the_same_list_as_one_page(seeded: Clinic, filters):
    whole = seeded.page(now=NOW, **filters)
    assert ids(walk_pages(seeded, 2, **filters)) == ids(whole)


def test_pages_read_as_time_passes_still_walk_every_task_once_in_order(seeded: Clinic):
    pages = walk_pages(seeded, 3, nows=lambda n: NOW + timedelta(days=15 * n))
    assert ids(pages) == ids(listed(seeded))
    late = [t["overdue"] for t in pages[-3:]]
    assert any(late)  # the last pages were read when more tasks were overdue


def test_pages_stay_correct_when_tasks_open_and_close_between_them(seeded: Clinic):
    before = set(ids(listed(seeded)))
    three = seeded.episodes["three"]  # type: ignore[attr-defined]

    def meanwhile(n: int) -> None:
        if n == 2:
            seeded.do(three, cmd.CloseEpisode, b.closure(), days=7)
            seeded.open(days=7, patient_id="pt-new")

    seen = walk_pages(seeded, 3, between=meanwhile)
    keys = [
        (0 if t["priority"] == "urgent" else 1, t["due_at"], t["task_id"]) for t in seen
    ]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)  # in order, once each
    stayed = before & set(ids(listed(seeded)))
    assert stayed <= set(ids(seen))  # every task open throughout was listed


def test_the_same_stored_tasks_read_at_two_nows_give_each_its_overdue_set(
    seeded: Clinic,
):
    rows = seeded.rows()
    for now in (NOW, LATER):
        expected = {r["task_id"] for r in rows if r["due_at"] <= now}
        assert set(ids(seeded.page(now=now, overdue=True))) == expected
        assert {t["task_id"] for t in seeded.page(now=now) if t["overdue"]} == expected
    assert len(ids(seeded.page(now=LATER, overdue=True))) > len(
        ids(seeded.page(now=NOW, overdue=True))
    )


def test_follow_ups_read_later_are_high_once_overdue(seeded: Clinic):
    early = {t["task_id"] for t in seeded.page(now=NOW, priority="high")}
    late = {t["task_id"] for t in seeded.page(now=LATER, priority="high")}
    rows = [r for r in seeded.rows() if r["kind"] == "outcome_due"]
    assert early == {r["task_id"] for r in rows if r["due_at"] <= NOW}
    assert late == {r["task_id"] for r in rows if r["due_at"] <= LATER}
    assert early < late


@pytest.mark.parametrize("now", [b.at(0, 2), NOW, b.at(20, 23), LATER, b.at(500)])
def test_the_summary_counts_what_a_scan_of_the_stored_tasks_counts(seeded: Clinic, now):
    rows = seeded.rows()
    summary = seeded.view.summary(now)
    overdue = [r for r in rows if is_overdue(r, now)]
    assert (summary.open, summary.overdue) == (len(rows), len(overdue))
    kinds = Counter(r["kind"] for r in rows)
    late_kinds = Counter(r["kind"] for r in overdue)
    assert {k.kind: (k.open, k.overdue) for k in summary.by_kind} == {
        k.kind: (kinds[k.kind], late_kinds[k.kind]) for k in summary.by_kind
    }
    shown = Counter(shown_priority(r, now) for r in rows)
    assert {p.priority: p.open for p in summary.by_priority} == {
        p: shown[p] for p in ("urgent", "high", "normal")
    }
    people = Counter(r["assignee"] for r in rows)
    late_people = Counter(r["assignee"] for r in overdue)
    assert {a.assignee: (a.open, a.overdue) for a in summary.by_assignee} == {
        who: (people[who], late_people[who]) for who in people
    }


def test_the_summary_follows_tasks_as_they_close(seeded: Clinic):
    before = seeded.view.summary(NOW).open
    seeded.do(seeded.episodes["three"], cmd.CloseEpisode, b.closure(), days=7)  # type: ignore[attr-defined]
    after = seeded.view.summary(NOW).open
    assert after == len(seeded.rows()) < before
    assert seeded.matches_a_fold()
