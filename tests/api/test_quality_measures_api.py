"""The quality measures over HTTP: rates and decisions with their deciding events,
keyset paging, physician scope, every read logged, every bad parameter a problem.

The windows here closed long before the service's clock (T0 is March 2026), so
every decision reads as final; tests/integration judge them at chosen instants.
"""

from __future__ import annotations

import pytest

from tests.support import builders as b
from tests.support.http import assert_problem, json_body

OTHER = {"id": "dr-pc-2", "name": "Dr Other", "role": "primary_care"}


def opened(api, days: float = 0, **referral) -> tuple[str, int]:
    body = {"age_band": "35-49", "presentation": "axial", **referral}
    response = api.client.post(
        "/episodes",
        json=json_body(b.referral(**body), days),
        headers={"Authorization": "Bearer tok-service-0123456789"},
    )
    assert response.status_code == 201, response.text
    return response.json()["episode_id"], response.json()["position"]


def decisions(api, measure: str = "LBP-IMG", role: str = "auditor", **params):
    response = api.get(f"/quality-measures/{measure}", role=role, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def measure_of(summary: dict, measure: str) -> dict:
    [found] = [m for m in summary["measures"] if m["measure"] == measure]
    return found


def test_the_summary_gives_each_measure_its_rate_definition_and_source(api):
    opened(api, patient_id="pt-a")
    imaged, _ = opened(api, patient_id="pt-b")
    done = api.command(imaged, "diagnostics", b.mri(), days=3).json()["position"]
    response = api.get("/quality-measures", params={"min_position": done})
    assert response.status_code == 200, response.text
    summary = response.json()
    assert [m["measure"] for m in summary["measures"]] == [
        "LBP-IMG",
        "FS-CHG",
        "PROM-REG",
        "ESI-RESP",
    ]
    assert (summary["rules_version"], summary["period"]) == (1, "month")
    lbp = measure_of(summary, "LBP-IMG")
    assert lbp["inverted"] is True
    assert "HEDIS" in lbp["source"] and "Choosing Wisely" in lbp["source"]
    assert lbp["overall"] == {
        "key": "LBP-IMG",
        "eligible": 2,
        "excluded": 0,
        "denominator": 2,
        "numerator": 1,
        "rate": 0.5,
        "pending": 0,
        "not_eligible": 0,
        "exclusions": {},
    }
    assert [r["key"] for r in lbp["by_referrer"]] == ["dr-pc-1"]
    assert [r["key"] for r in lbp["by_period"]] == ["2026-03"]
    assert measure_of(summary, "FS-CHG")["overall"]["not_eligible"] == 2


def test_one_measure_filter_and_periods_shape_the_summary(api):
    opened(api, patient_id="pt-a")
    _, position = opened(api, days=40, patient_id="pt-b", referrer=OTHER)
    params = {"measure": "lbp-img", "period": "quarter", "referrer_id": "dr-pc-2"}
    summary = api.get("/quality-measures", params={**params, "min_position": position})
    summary = summary.json()
    [lbp] = summary["measures"]
    assert (lbp["measure"], summary["period"]) == ("LBP-IMG", "quarter")
    assert [(r["key"], r["numerator"]) for r in lbp["by_period"]] == [("2026-Q2", 1)]
    window = {
        "occurred_from": b.at(30).isoformat(),
        "occurred_to": b.at(50).isoformat(),
    }
    [lbp] = api.get(
        "/quality-measures", params={"measure": "LBP-IMG", **window}
    ).json()["measures"]
    assert [r["key"] for r in lbp["by_referrer"]] == ["dr-pc-2"]


def test_a_decision_names_its_status_reason_and_deciding_events(api):
    episode, _ = opened(api)
    screened = api.command(
        episode, "red-flag-screenings", b.screening(flags=["fracture"]), days=2
    ).json()
    page = decisions(api, min_position=screened["position"])
    assert page["measure"] == "LBP-IMG"
    [item] = page["items"]
    assert (item["episode_id"], item["status"], item["exclusion"]) == (
        episode,
        "excluded",
        "red_flag",
    )
    assert "fracture stood from 2026-03-04 (v2)" in item["reason"]
    assert [(d["role"], d["version"], d["type"]) for d in item["deciding"]] == [
        ("opening", 1, "ReferralReceived"),
        ("red_flag", 2, "RedFlagsScreened"),
    ]
    assert item["deciding"][1]["position"] == screened["position"]
    assert (item["due_at"], item["final"]) == (None, None)


def test_decisions_page_by_keyset_in_anchor_order(api):
    episodes = [opened(api, days=day, patient_id=f"pt-{day}") for day in (5, 1, 3)]
    position = max(p for _, p in episodes)
    first = decisions(api, limit=2, min_position=position)
    assert first["next_cursor"] is not None
    second = decisions(api, limit=2, after=first["next_cursor"])
    assert second["next_cursor"] is None
    listed = [i["episode_id"] for i in first["items"] + second["items"]]
    by_day = dict(zip((5, 1, 3), (e for e, _ in episodes), strict=True))
    assert listed == [by_day[1], by_day[3], by_day[5]]


def test_decisions_filter_by_status_exclusion_and_episode(api):
    plain, _ = opened(api, patient_id="pt-a")
    flagged, position = opened(api, patient_id="pt-b", red_flags=["infection"])
    excluded = decisions(api, status="excluded", min_position=position)["items"]
    assert [i["episode_id"] for i in excluded] == [flagged]
    named = decisions(api, exclusion="red_flag")["items"]
    assert [i["episode_id"] for i in named] == [flagged]
    assert [i["episode_id"] for i in decisions(api, episode_id=plain)["items"]] == [
        plain
    ]


def test_a_physician_sees_the_decisions_of_its_own_episodes_without_positions(api):
    mine, _ = opened(api, patient_id="pt-a")
    _, position = opened(api, patient_id="pt-b", referrer=OTHER)
    decisions(api, min_position=position)  # caught up
    [item] = decisions(api, role="physician")["items"]
    assert item["episode_id"] == mine
    assert [d["position"] for d in item["deciding"]] == [None]
    assert decisions(api, role="other_physician")["items"] == []
    summary = api.get("/quality-measures", role="physician").json()
    assert measure_of(summary, "LBP-IMG")["overall"]["numerator"] == 1
    other = api.get("/quality-measures", role="other_physician").json()
    assert measure_of(other, "LBP-IMG")["overall"]["eligible"] == 0


def test_a_later_referrer_sees_the_episodes_it_referred_into(api):
    episode, _ = opened(api, patient_id="pt-a", referrer=OTHER)
    later = api.command(
        episode, "referrals", b.further_referral(referrer=b.referral()["referrer"])
    ).json()
    decisions(api, min_position=later["position"])
    [item] = decisions(api, role="physician")["items"]
    assert (item["episode_id"], item["referrer_id"]) == (episode, "dr-pc-2")


def test_every_read_of_the_measures_is_in_the_access_log(api):
    episode, position = opened(api)
    decisions(api, role="clinician", min_position=position)
    decisions(api, role="physician", measure="FS-CHG")
    api.get("/quality-measures", role="clinician")
    entries = api.get("/audit/access-log").json()["items"]
    reads = [
        (e["action"], e["principal_id"], e["episode_ids"])
        for e in entries
        if e["action"].startswith("GET /quality-measures")
    ]
    assert reads == [
        ("GET /quality-measures", "clin-ana", []),
        ("GET /quality-measures/{measure}", "phys-1", [episode]),
        ("GET /quality-measures/{measure}", "clin-ana", [episode]),
    ]


def test_an_unknown_measure_in_the_path_is_not_found(api):
    response = api.get("/quality-measures/HBA1C")
    body = assert_problem(response, 404, "measure-not-found", "LBP-IMG", "ESI-RESP")
    assert "HBA1C" in body["detail"]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/quality-measures", {"measure": "HBA1C"}, "measure"),
        ("/quality-measures", {"period": "week"}, "period"),
        (
            "/quality-measures",
            {"occurred_from": "2026-03-02T09:00:00"},
            "occurred_from",
        ),
        ("/quality-measures", {"measures": "LBP-IMG"}, "measures"),
        ("/quality-measures", {"referrer_id": "dr one"}, "referrer_id"),
        ("/quality-measures/LBP-IMG", {"status": "maybe"}, "status"),
        ("/quality-measures/LBP-IMG", {"episode_id": "12"}, "episode_id"),
        ("/quality-measures/LBP-IMG", {"after": "not-a-cursor"}, "after"),
        ("/quality-measures/LBP-IMG", {"limit": "0"}, "limit"),
        ("/quality-measures/LBP-IMG", {"period": "month"}, "period"),
    ],
)
def test_a_bad_parameter_is_a_422_problem_naming_it(api, path, params, field):
    slug = "invalid-cursor" if field == "after" else "invalid-request"
    body = assert_problem(api.get(path, params=params), 422, slug)
    assert field in {e["field"] for e in body["errors"]}, body


def test_a_parameter_given_twice_is_refused(api):
    response = api.client.get(
        "/quality-measures?referrer_id=a&referrer_id=b",
        headers={"Authorization": "Bearer tok-auditor-0123456789"},
    )
    body = assert_problem(response, 422, "invalid-request", "more than once")
    assert body["errors"][0]["field"] == "referrer_id"


def test_the_referral_takes_an_age_band_and_refuses_another_value(api):
    episode, _ = opened(api, age_band="65-75")
    read = api.get(f"/episodes/{episode}").json()
    assert read["referrals"][0]["age_band"] == "65-75"
    response = api.client.post(
        "/episodes",
        json=json_body(b.referral(age_band="42"), 0),
        headers={"Authorization": "Bearer tok-service-0123456789"},
    )
    body = assert_problem(response, 422, "invalid-request")
    assert "age_band" in {e["field"] for e in body["errors"]}


def test_a_deciding_event_names_the_amendment_it_was_read_through(api):
    episode, _ = opened(api, age_band=None)
    correction = {
        "amends_version": 1,
        "fields": {"age_band": "18-34"},
        "reason": "age band left out at intake",
    }
    amended = api.command(episode, "amendments", correction, days=2)
    assert amended.status_code == 201, amended.text
    position = amended.json()["position"]
    [item] = decisions(api, min_position=position)["items"]
    assert item["status"] == "numerator"
    assert item["deciding"][0]["amended_by"] == {"version": 2, "position": position}
    [seen] = decisions(api, role="physician")["items"]
    assert seen["deciding"][0]["amended_by"] == {"version": 2, "position": None}
