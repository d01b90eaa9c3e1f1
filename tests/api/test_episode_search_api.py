"""GET /episodes: find episodes by patient, referrer, assignee, status and opening,
page by keyset, scoped to the physician, every search in the access log."""

from __future__ import annotations

from tests.support import builders as b
from tests.support.http import PHYSICIAN_ID, assert_problem

OTHER = {"id": "dr-x", "name": "Dr X", "role": "concierge"}


def ids(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["episode_id"] for item in response.json()["items"]]


def test_a_search_finds_a_patients_episodes_in_the_order_they_opened(api):
    first = api.open(days=0, patient_id="pt-1")
    api.open(days=1, patient_id="pt-2")
    second = api.open(days=2, patient_id="pt-1")
    response = api.get("/episodes", params={"patient_id": "pt-1"})
    assert ids(response) == [first, second]
    item = response.json()["items"][0]
    assert item == {
        "episode_id": first,
        "patient_id": "pt-1",
        "opened_at": b.at(0).isoformat().replace("+00:00", "Z"),
        "status": "open",
        "assignee_id": None,
        "version": 1,
    }


def test_filters_by_referrer_assignee_status_and_window(api):
    episodes = [api.open(days=n) for n in range(4)]
    api.command(episodes[1], "assignments", role="clinician", days=5)
    api.command(episodes[2], "closure", days=5)
    api.command(episodes[3], "referrals", days=5)  # the surgeon refers on
    assert ids(api.get("/episodes", params={"assignee": "clin-ana"})) == [episodes[1]]
    assert ids(api.get("/episodes", params={"status": "closed"})) == [episodes[2]]
    assert ids(api.get("/episodes", params={"referrer_id": "dr-ss-1"})) == [episodes[3]]
    window = {"opened_from": b.at(1).isoformat(), "opened_to": b.at(3).isoformat()}
    assert ids(api.get("/episodes", params=window)) == episodes[1:3]


def test_pages_follow_the_cursor_to_the_end(api):
    episodes = [api.open(days=n) for n in range(5)]
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"after": cursor} if cursor else {})}
        page = api.get("/episodes", params=params).json()
        seen += [item["episode_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == episodes


def test_a_physician_finds_only_the_episodes_it_referred(api):
    mine = api.open()
    api.open(referrer=OTHER)
    assert ids(api.get("/episodes", role="physician")) == [mine]
    assert ids(api.get("/episodes", role="other_physician")) == []
    # a filter cannot widen the scope
    found = api.get("/episodes", role="physician", params={"referrer_id": "dr-x"})
    assert ids(found) == []


def test_every_search_is_in_the_access_log_with_the_episodes_it_disclosed(api):
    mine = api.open()
    api.get("/episodes", role="physician")
    log = api.get("/audit/access-log", role="auditor").json()["items"]
    [entry] = [e for e in log if e["action"] == "GET /episodes"]
    assert entry["principal_id"] == "phys-1"
    assert entry["episode_ids"] == [mine]
    assert entry["outcome"] == "disclosed"


def test_bad_parameters_are_422_problems(api):
    cursor = api.get("/episodes", params={"after": "not-a-cursor"})
    assert_problem(cursor, 422, "invalid-cursor")
    for params in (
        {"limit": 0},
        {"limit": 501},
        {"status": "paused"},
        {"opened_from": "2026-01-01T00:00:00"},
    ):
        assert_problem(api.get("/episodes", params=params), 422, "invalid-request")
    assert PHYSICIAN_ID == "dr-pc-1"
