"""Audit replays over HTTP: the row at a version, instant or rule set, the timeline,
the evidence packet (JSON and printable HTML), their errors, scope and access log."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from infra.audit_replay import check_evidence
from tests.api.test_referral_audit_api import Episode, seed_pipeline
from tests.support import builders as b
from tests.support.http import assert_problem, auth

URL = "/audit/referral-loops/{id}"


def rules_at(response) -> set[tuple[str, int]]:
    assert response.status_code == 200, response.text
    return {(f["rule"], f["at_version"]) for f in response.json()["findings"]}


def test_the_replay_at_the_head_is_the_served_row(api):
    episode = seed_pipeline(api)
    served = episode.audit().json()
    head = api.get(URL.format(id=episode.id), params={"version": 6}).json()
    assert served["replay"] is None
    assert {**head, "replay": None} == served
    assert head["replay"]["version"] == 6 and head["replay"]["rules_version"] == 2


def test_the_row_as_it_was_served_after_each_version_is_the_replay_at_it(api):
    episode = Episode(api, receiving_service="spine_surgery", insurance_mandated=True)
    served = {1: episode.audit().json()}
    for version, (path, body, days) in enumerate(
        [
            ("referrals", b.further_referral(), 10),
            ("interventions", b.esi(), 20),
            ("consult-notes", b.consult_note(), 25),
            ("surgery-referrals", b.surgery_referral(), 85),
        ],
        start=2,
    ):
        episode.post(path, body, days)
        served[version] = episode.audit().json()
    for version, row in served.items():
        replayed = api.get(URL.format(id=episode.id), params={"version": version})
        assert {**replayed.json(), "replay": None} == row, version


def test_a_replay_as_of_an_instant_judges_the_events_recorded_by_then(api):
    episode = Episode(api)
    instant = datetime.now(UTC)
    episode.post("consult-notes", b.consult_note(), days=2)
    now = {"judged_at": b.at(30).isoformat()}
    then = api.get(
        URL.format(id=episode.id), params={"as_of": instant.isoformat(), **now}
    )
    later = api.get(URL.format(id=episode.id), params=now)
    assert rules_at(then) == {("R10", 1)} and rules_at(later) == set()
    assert then.json()["replay"]["as_of"] is not None
    assert then.json()["replay"]["version"] == 1


def test_another_profile_or_rule_set_judges_without_a_rebuild(api):
    episode = seed_pipeline(api)
    nhs = api.get(URL.format(id=episode.id), params={"rules": "nhs"})
    v1 = api.get(URL.format(id=episode.id), params={"rules_version": 1})
    assert nhs.json()["rules_profile"] == "nhs" and nhs.json()["rules_version"] == 2
    assert v1.json()["rules_version"] == 1 and v1.json()["surgery_referrals"] == []
    assert rules_at(nhs) == rules_at(episode.audit())  # no block in this pathway


def test_a_pending_deadline_is_listed_apart_until_judged_at_passes_it(api):
    episode = Episode(api)
    early = api.get(
        URL.format(id=episode.id), params={"judged_at": b.at(13).isoformat()}
    )
    assert early.json()["findings"] == []
    assert [f["rule"] for f in early.json()["replay"]["pending"]] == ["R10"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"rules": "medicare"}, "rules"),
        ({"rules_version": 3}, "rules_version"),
        ({"version": 0}, "version"),
        ({"version": "two"}, "version"),
        ({"as_of": "2026-05-01T10:00:00"}, "as_of"),
        ({"judged_at": "tomorrow"}, "judged_at"),
        ({"version": 1, "as_of": "2026-05-01T10:00:00Z"}, "as_of"),
    ],
)
@pytest.mark.parametrize("path", ["", "/timeline", "/evidence"])
def test_bad_replay_parameters_are_422_naming_the_field(api, params, field, path):
    episode_id = api.open()
    response = api.get(URL.format(id=episode_id) + path, params=params)
    body = assert_problem(response, 422, "invalid-request")
    assert field in {error["field"] for error in body["errors"]}


def test_an_unknown_profile_lists_the_allowed_ones(api):
    response = api.get(URL.format(id=api.open()), params={"rules": "medicare"})
    [error] = assert_problem(response, 422, "invalid-request")["errors"]
    assert error["allowed"] == ["payer", "nhs"]


@pytest.mark.parametrize("path", ["", "/timeline", "/evidence"])
def test_a_version_beyond_the_head_is_404_as_for_the_episode_read(api, path):
    episode_id = api.open()
    response = api.get(URL.format(id=episode_id) + path, params={"version": 2})
    assert_problem(response, 404, "episode-not-found", "has no version 2")
    episode_read = api.get(f"/episodes/{episode_id}", params={"version": 2})
    assert episode_read.status_code == 404


@pytest.mark.parametrize("path", ["?version=1", "/timeline", "/evidence"])
def test_a_physician_replays_only_the_episodes_it_referred(api, path):
    episode_id = api.open()
    assert (
        api.get(URL.format(id=episode_id) + path, role="physician").status_code == 200
    )
    other = api.get(URL.format(id=episode_id) + path, role="other_physician")
    assert_problem(other, 403, "forbidden")
    assert "pt-0001" not in other.text


@pytest.mark.parametrize(
    ("path", "action"),
    [
        ("?version=1", "GET /audit/referral-loops/{episode_id}"),
        ("/timeline", "GET /audit/referral-loops/{episode_id}/timeline"),
        ("/evidence", "GET /audit/referral-loops/{episode_id}/evidence"),
        ("/evidence?format=html", "GET /audit/referral-loops/{episode_id}/evidence"),
    ],
)
def test_each_replay_lands_in_the_access_log(api, path, action):
    episode_id = api.open()
    assert (
        api.get(URL.format(id=episode_id) + path, role="clinician").status_code == 200
    )
    log = api.get("/audit/access-log", params={"episode_id": episode_id}).json()
    [entry] = log["items"]
    assert (entry["principal_id"], entry["action"], entry["outcome"]) == (
        "clin-ana", action, "disclosed",
    )  # fmt: skip


def test_the_timeline_shows_r1_to_r4_appearing_at_the_surgery_referral(api):
    episode = seed_pipeline(api)
    steps = api.get(URL.format(id=episode.id) + "/timeline").json()["steps"]
    by_version = {s["version"]: s for s in steps if s["cause"] == "event"}
    assert {f["rule"] for f in by_version[6]["appeared"]} == {"R1", "R2", "R3", "R4"}
    assert by_version[6]["type"] == "SurgeryReferred"
    assert {f["rule"] for f in by_version[1]["appeared"]} == {"R10"}
    assert [s["version"] for s in steps] == list(range(1, 7))


def test_the_evidence_packet_verifies_and_names_what_each_finding_rests_on(api):
    episode = seed_pipeline(api)
    packet = api.get(URL.format(id=episode.id) + "/evidence").json()
    assert check_evidence(packet) == []
    assert [e["version"] for e in packet["history"]] == list(range(1, 7))
    assert packet["history"][0]["actor"] == {
        "principal_id": "svc-intake",
        "role": "service",
    }
    r1 = next(f for f in packet["findings"] if f["rule"] == "R1")
    # v2: the surgeon's referral to pain medicine; v6: the surgery referral
    assert r1["rests_on"] == [2, 6]
    assert r1["rule_text"].startswith("The pathway visits spine surgery")
    assert r1["code"] == "projections/referral_audit/rules_v2/surgery.py"
    assert packet["rules"] == {"version": 2, "profile": "payer"}


def test_a_physicians_evidence_packet_shows_no_global_positions(api):
    episode_id = api.open()
    auditor = api.get(URL.format(id=episode_id) + "/evidence").json()
    physician = api.get(
        URL.format(id=episode_id) + "/evidence", role="physician"
    ).json()
    assert auditor["history"][0]["position"] is not None
    assert physician["history"][0]["position"] is None


@pytest.mark.parametrize(
    "how", [{"params": {"format": "html"}}, {"headers": {"Accept": "text/html"}}]
)
def test_the_evidence_is_a_printable_page(api, how):
    episode = seed_pipeline(api)
    url = URL.format(id=episode.id) + "/evidence"
    headers = {**auth("auditor"), **how.get("headers", {})}
    response = api.client.get(url, params=how.get("params"), headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "surgeon_pain_surgeon_loop" in page and "@media print" in page
    assert 'id="v6"' in page and 'href="#v6"' in page
    assert packet_head(api, episode) in page


def packet_head(api, episode) -> str:
    packet = api.get(URL.format(id=episode.id) + "/evidence").json()
    return packet["chain"]["head"]["link"]


def test_text_on_the_evidence_page_is_escaped(api):
    episode_id = api.open(reason="<script>alert(1)</script> & more")
    page = api.get(URL.format(id=episode_id) + "/evidence", params={"format": "html"})
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;" in page.text
