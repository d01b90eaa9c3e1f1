"""GET /physicians/{id}/feed over HTTP: items, paging, errors, scope and the access log."""

from __future__ import annotations

import pytest

from api.paging import encode_cursor
from tests.support import builders as b
from tests.support.http import PHYSICIAN_ID, assert_problem, auth, json_body

FEED = f"/physicians/{PHYSICIAN_ID}/feed"
SURGEON = {"id": "dr-ss-1", "name": "Dr Surgeon", "role": "spine_surgery"}


def opened(api, **overrides) -> tuple[str, int]:
    """An episode opened over HTTP: its id and the position of its referral."""
    response = api.client.post(
        "/episodes", json=json_body(b.referral(**overrides), 0), headers=auth("service")
    )
    assert response.status_code == 201, response.text
    return response.json()["episode_id"], response.json()["position"]


def posted(api, episode_id: str, path: str, body: dict, days: float = 1) -> int:
    response = api.command(episode_id, path, body, days=days)
    assert response.status_code == 201, response.text
    return response.json()["position"]


def feed(api, url: str = FEED, role: str = "physician", **params):
    return api.get(url, role=role, params=params)


def test_a_physician_reads_each_change_to_their_patient_with_its_summary(api):
    episode_id, _ = opened(api)
    position = posted(api, episode_id, "outcomes", b.outcome())
    response = feed(api, min_position=position)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [item["summary"] for item in body["items"]] == [
        "New episode: spine surgery received the patient from Dr Primary (primary "
        "care): low back pain with left leg pain for 10 weeks",
        "ODI 46: baseline",
    ]
    assert body["next_cursor"] is None
    outcome = body["items"][1]
    assert {k: v for k, v in outcome.items() if k not in ("cursor", "recorded_at")} == {
        "episode_id": episode_id,
        "patient_id": "pt-0001",
        "version": 2,
        "type": "OutcomeRecorded",
        "occurred_at": "2026-03-03T09:00:00Z",
        "summary": "ODI 46: baseline",
        "data": {"instrument": "odi", "score": 46, "follows_version": None},
    }


def test_pages_follow_next_cursor_to_the_last_page(api):
    episode_id, _ = opened(api)
    for day in range(1, 5):
        position = posted(api, episode_id, "red-flag-screenings", b.screening(), day)
    first = feed(api, min_position=position, limit=2).json()
    second = feed(api, after=first["next_cursor"], limit=2).json()
    third = feed(api, after=second["next_cursor"], limit=2).json()
    versions = [
        [i["version"] for i in page["items"]] for page in (first, second, third)
    ]
    assert versions == [[1, 2], [3, 4], [5]]
    assert third["next_cursor"] is None


def test_an_items_cursor_resumes_the_feed_after_that_item(api):
    episode_id, _ = opened(api)
    position = posted(api, episode_id, "red-flag-screenings", b.screening())
    [first, _] = feed(api, min_position=position).json()["items"]
    assert [i["version"] for i in feed(api, after=first["cursor"]).json()["items"]] == [
        2
    ]


def test_cursors_reveal_no_global_position(api):
    # given another physician's patient, recorded before this physician's
    _, before = opened(
        api, referrer={"id": "dr-x", "name": "Dr X", "role": "concierge"}
    )
    _, position = opened(api)
    # then this physician's first item has the cursor any physician's first item has
    [item] = feed(api, min_position=position).json()["items"]
    assert position > before and item["cursor"] == encode_cursor("feed", 1)
    assert "position" not in item


def test_a_later_referrer_reads_the_episode_only_from_their_referral_on(api):
    episode_id, _ = opened(api)
    posted(api, episode_id, "red-flag-screenings", b.screening())
    referral = b.further_referral(referrer=SURGEON)
    position = posted(api, episode_id, "referrals", referral, days=2)
    items = feed(
        api, "/physicians/dr-ss-1/feed", role="auditor", min_position=position
    ).json()["items"]
    assert [(i["version"], i["type"]) for i in items] == [(3, "ReferralReceived")]


@pytest.mark.parametrize("role", ["service", "clinician", "auditor"])
def test_staff_read_any_physicians_feed(api, role):
    _, position = opened(api)
    response = feed(api, role=role, min_position=position)
    assert response.status_code == 200
    assert len(response.json()["items"]) == 1


def test_a_physician_may_not_read_another_physicians_feed(api):
    opened(api)
    response = feed(api, role="other_physician")
    assert_problem(response, 403, "forbidden")
    assert "pt-0001" not in response.text


def test_a_refused_read_is_logged_as_denied(api):
    feed(api, role="other_physician")
    [entry] = access_log(api, principal_id="phys-2")
    assert (entry["action"], entry["outcome"], entry["episode_ids"]) == (
        "GET /physicians/{physician_id}/feed",
        "denied",
        [],
    )


def test_every_read_is_logged_with_the_episodes_it_returned(api):
    first, _ = opened(api)
    second, position = opened(api, patient_id="pt-0002")
    feed(api, min_position=position)
    [entry] = access_log(api, principal_id="phys-1")
    assert entry["outcome"] == "disclosed"
    assert sorted(entry["episode_ids"]) == sorted([first, second])


def access_log(api, **params) -> list[dict]:
    response = api.get("/audit/access-log", params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


@pytest.mark.parametrize(
    "after",
    ["not-a-cursor", encode_cursor("audit", 3), encode_cursor("feed", "x1")],
    ids=["garbage", "another-lists-cursor", "not-a-number"],
)
def test_a_bad_cursor_is_a_422(api, after):
    assert_problem(feed(api, after=after), 422, "invalid-cursor")


@pytest.mark.parametrize("limit", [0, 501, -1])
def test_a_limit_outside_1_to_500_is_a_422(api, limit):
    body = assert_problem(feed(api, limit=limit), 422, "invalid-request")
    assert body["errors"][0]["field"] == "limit"


def test_a_limit_of_500_is_accepted(api):
    assert feed(api, limit=500).status_code == 200


def test_a_feed_that_has_not_caught_up_answers_503_with_retry_after(api):
    response = feed(api, role="auditor", min_position=10**9)
    assert_problem(response, 503, "read-model-behind")
    assert response.headers["retry-after"] == "1"


def test_a_physician_may_not_wait_on_a_global_position(api):
    # answering at once up to the head and waiting beyond it would tell a
    # physician how many events the whole store holds
    for url in (FEED, "/worklist", "/audit/referral-loops"):
        response = api.client.get(
            url, headers=auth("physician"), params={"min_position": 1}
        )
        body = assert_problem(response, 422, "invalid-request", "by cursor")
        assert body["errors"][0]["field"] == "min_position"


@pytest.mark.parametrize(
    ("headers", "params"),
    [
        ({"Last-Event-ID": "not-a-cursor"}, {}),
        ({}, {"after": "not-a-cursor"}),
    ],
    ids=["last-event-id", "after"],
)
def test_a_stream_asked_to_resume_from_a_bad_cursor_is_a_422(api, headers, params):
    response = api.client.get(
        f"{FEED}/stream", params=params, headers={**auth("physician"), **headers}
    )
    assert_problem(response, 422, "invalid-cursor")


def test_a_physician_may_not_stream_another_physicians_feed(api):
    response = api.get(f"{FEED}/stream", role="other_physician")
    assert_problem(response, 403, "forbidden")
    [entry] = access_log(api, principal_id="phys-2")
    assert (entry["action"], entry["outcome"]) == (
        "GET /physicians/{physician_id}/feed/stream",
        "denied",
    )
