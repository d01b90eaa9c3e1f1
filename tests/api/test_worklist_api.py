"""The worklist over HTTP: commands in, open tasks and the summary out, scoped by
role, every read logged, every bad parameter a 422 problem."""

from __future__ import annotations

import pytest

from tests.support import builders as b
from tests.support.http import assert_problem

CONCIERGE = {"id": "dr-cc-1", "name": "Dr Concierge", "role": "concierge"}
TASK_FIELDS = {
    "task_id",
    "episode_id",
    "patient_id",
    "referrer_id",
    "kind",
    "point",
    "detail",
    "priority",
    "overdue",
    "due_at",
    "opened_at",
    "window_start",
    "window_end",
    "assignee",
    "assignee_name",
}


def opened(api, **referral) -> tuple[str, int]:
    response = api.client.post(
        "/episodes",
        json={"occurred_at": b.at(0).isoformat(), **plain(b.referral(**referral))},
        headers={"Authorization": "Bearer tok-service-0123456789"},
    )
    assert response.status_code == 201, response.text
    return response.json()["episode_id"], response.json()["position"]


def plain(body: dict) -> dict:
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in body.items()}


def worklist(api, role: str = "clinician", **params):
    return api.get("/worklist", role=role, params=params)


def items(api, role: str = "clinician", **params) -> list[dict]:
    response = worklist(api, role, **params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_an_opened_episode_shows_its_tasks_in_the_designed_shape(api):
    episode, position = opened(api)
    listed = items(api, min_position=position, episode_id=episode)
    assert {(t["kind"], t["point"]) for t in listed} == {
        ("screening_due", "episode"),
        ("baseline_outcome_due", "episode"),
        ("consult_note_due", "dr-pc-1"),
    }
    assert set(listed[0]) == TASK_FIELDS
    assert {(t["episode_id"], t["patient_id"], t["referrer_id"]) for t in listed} == {
        (episode, "pt-0001", "dr-pc-1")
    }


def test_a_red_flag_referral_puts_its_urgent_triage_first(api):
    opened(api, patient_id="pt-early")
    flagged, position = opened(api, red_flags=["cauda_equina"])
    [first] = items(api, min_position=position, limit=1)
    assert (first["episode_id"], first["kind"], first["priority"]) == (
        flagged,
        "red_flag_triage",
        "urgent",
    )


def test_an_assignment_is_shown_on_every_task_and_filters_the_list(api):
    episode, _ = opened(api)
    other, _ = opened(api, patient_id="pt-0002")
    response = api.command(episode, "assignments", b.assignment(), days=1)
    position = response.json()["position"]
    mine = items(api, min_position=position, assignee="clin-ana")
    assert {t["episode_id"] for t in mine} == {episode}
    assert {t["assignee_name"] for t in mine} == {"Ana Clinician"}
    assert other not in {t["episode_id"] for t in mine}


def test_pages_follow_next_cursor_through_the_whole_list(api):
    for n in range(3):
        _, position = opened(api, patient_id=f"pt-{n}")
    whole = items(api, min_position=position, limit=500)
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"after": cursor} if cursor else {})}
        page = worklist(api, **params).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [t["task_id"] for t in seen] == [t["task_id"] for t in whole]


def test_filters_by_kind_priority_overdue_and_due_time_reach_the_view(api):
    _, position = opened(api, red_flags=["infection"])
    assert {
        t["kind"] for t in items(api, min_position=position, kind="screening_due")
    } == {"screening_due"}
    assert {t["kind"] for t in items(api, priority="urgent")} == {"red_flag_triage"}
    # every task of an episode opened on 2 March is overdue by now
    assert len(items(api, overdue="true")) == len(items(api)) == 4
    assert items(api, overdue="false") == []
    assert items(api, due_before=b.at(0, 7).isoformat()) == items(
        api, priority="urgent"
    )


def test_a_physician_sees_only_the_tasks_of_episodes_it_referred(api):
    mine, _ = opened(api)
    _, position = opened(api, patient_id="pt-other", referrer=CONCIERGE)
    listed = items(api, "physician", min_position=position)
    assert {t["episode_id"] for t in listed} == {mine}
    assert items(api, "other_physician") == []


def test_the_summary_counts_open_and_overdue_tasks_per_kind_priority_and_assignee(api):
    episode, _ = opened(api, red_flags=["fracture"])
    position = api.command(episode, "assignments", b.assignment()).json()["position"]
    response = api.get("/worklist/summary", params={"min_position": position})
    assert response.status_code == 200, response.text
    summary = response.json()
    assert (summary["open"], summary["overdue"], summary["rules_version"]) == (4, 4, 1)
    kinds = {k["kind"]: k["open"] for k in summary["by_kind"] if k["open"]}
    assert kinds == {
        "red_flag_triage": 1,
        "screening_due": 1,
        "baseline_outcome_due": 1,
        "consult_note_due": 1,
    }
    assert {p["priority"]: p["open"] for p in summary["by_priority"]} == {
        "urgent": 1,
        "high": 0,
        "normal": 3,
    }
    assert summary["by_assignee"] == [
        {"assignee": "clin-ana", "open": 4, "overdue": 4, "urgent": 1, "high": 0}
    ]


def test_a_physician_may_not_read_the_summary_across_physicians(api):
    assert_problem(api.get("/worklist/summary", role="physician"), 403, "forbidden")


def test_every_read_of_the_worklist_is_in_the_access_log(api):
    episode, position = opened(api)
    items(api, "clinician", min_position=position)  # the worklist has caught up
    items(api, "physician")
    api.get("/worklist/summary", role="clinician")
    entries = api.get("/audit/access-log").json()["items"]
    reads = [
        (e["action"], e["principal_id"], e["episode_ids"])
        for e in entries
        if e["action"].startswith("GET /worklist")
    ]
    assert reads == [
        ("GET /worklist/summary", "clin-ana", []),
        ("GET /worklist", "phys-1", [episode]),
        ("GET /worklist", "clin-ana", [episode]),
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"kind": "chores"}, "kind"),
        ({"priority": "whenever"}, "priority"),
        ({"overdue": "maybe"}, "overdue"),
        ({"due_before": "2026-03-02T09:00:00"}, "due_before"),  # no UTC offset
        ({"due_before": "soon"}, "due_before"),
        ({"episode_id": "not-a-uuid"}, "episode_id"),
        ({"assignee": ""}, "assignee"),
        ({"assignee": "two words"}, "assignee"),
        ({"referrer_id": "x" * 129}, "referrer_id"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"min_position": -1}, "min_position"),
        ({"asignee": "clin-ana"}, "asignee"),  # misspelt: unknown, not ignored
    ],
)
def test_a_bad_query_parameter_is_a_422_naming_it(api, params, field):
    body = assert_problem(worklist(api, **params), 422, "invalid-request")
    assert field in {error["field"] for error in body["errors"]}


def test_a_parameter_given_twice_is_a_422(api):
    response = api.client.get(
        "/worklist?kind=plan_due&kind=outcome_due",
        headers={"Authorization": "Bearer tok-clinician-0123456789"},
    )
    body = assert_problem(response, 422, "invalid-request", "more than once")
    assert body["errors"][0]["field"] == "kind"


def test_an_unknown_kind_lists_the_allowed_ones(api):
    body = assert_problem(worklist(api, kind="chores"), 422, "invalid-request")
    assert "red_flag_triage" in body["errors"][0]["allowed"]


@pytest.mark.parametrize("cursor", ["garbage", "d29ya2xpc3Q6eA", "YXVkaXQ6MXwy"])
def test_a_cursor_that_is_not_one_of_this_list_is_a_422(api, cursor):
    assert_problem(worklist(api, after=cursor), 422, "invalid-cursor")


def test_the_summary_refuses_unknown_parameters(api):
    response = api.get("/worklist/summary", params={"kind": "plan_due"})
    assert_problem(response, 422, "invalid-request", "kind")


def test_the_worklist_needs_a_token(api):
    response = api.client.get("/worklist")
    assert_problem(response, 401, "unauthenticated")
