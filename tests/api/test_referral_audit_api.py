"""The referral-loop audit end to end: commands in over HTTP, audit rows out."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import quote
from uuid import uuid4

import pytest

from infra.projection import rebuild
from tests.support import builders as b
from tests.support import projections as ps
from tests.support.http import assert_problem, auth, json_body

PC = {"id": "dr-pc-1", "name": "Dr Primary", "role": "primary_care"}
SURGEON = {"id": "dr-ss-1", "name": "Dr Surgeon", "role": "spine_surgery"}
PAIN = {"id": "dr-pm-1", "name": "Dr Pain", "role": "pain_medicine"}


class Episode:
    """Commands on one episode through the API; remembers the last position."""

    def __init__(self, api, **referral) -> None:
        self.api = api
        response = api.client.post(
            "/episodes",
            json=json_body(b.referral(**referral), 0),
            headers=auth("service"),
        )
        assert response.status_code == 201, response.text
        self.id = response.json()["episode_id"]
        self.position = response.json()["position"]

    def post(self, path: str, body: dict, days: float, hours: float = 0) -> Episode:
        data = json_body(body, days)
        data["occurred_at"] = b.at(days, hours).isoformat()
        response = self.api.client.post(
            f"/episodes/{self.id}/{path}", json=data, headers=auth("clinician")
        )
        assert response.status_code == 201, response.text
        self.position = response.json()["position"]
        return self

    def audit(self, role: str = "auditor"):
        return self.api.get(
            f"/audit/referral-loops/{self.id}",
            role=role,
            params={"min_position": self.position},
        )

    def rules(self) -> set[str]:
        response = self.audit()
        assert response.status_code == 200, response.text
        return {finding["rule"] for finding in response.json()["findings"]}


def seed_pipeline(api, *, conservative_care: bool = False) -> Episode:
    """Primary care -> surgeon -> pain medicine (insurance-mandated ESIs) -> surgery."""
    episode = Episode(api, receiving_service="spine_surgery", insurance_mandated=True)
    episode.post("referrals", b.further_referral(referrer=SURGEON), days=10)
    if conservative_care:
        care = b.conservative_care(
            started_on=date(2026, 3, 3), ended_on=date(2026, 4, 30)
        )
        episode.post("conservative-care", care, days=60)
    episode.post("interventions", b.esi(), days=20)
    episode.post("interventions", b.esi(), days=50)
    episode.post(
        "referrals",
        b.further_referral(referrer=PAIN, receiving_service="spine_surgery",
                           reason="ESIs wore off"),
        days=80,
    )  # fmt: skip
    episode.post("surgery-referrals", b.surgery_referral(), days=85)
    return episode


def flipped_pathway(api) -> Episode:
    """Primary care -> pain medicine: screen, MRI, positive blocks, PRP, outcomes, note."""
    episode = Episode(api, receiving_service="pain_medicine", presentation="axial")
    episode.post("red-flag-screenings", b.screening(), days=1)
    episode.post("diagnostics", b.mri(), days=5)
    episode.post("diagnostics", b.medial_branch_block(relief=85), days=12)
    episode.post("diagnostics", b.medial_branch_block(relief=90), days=19)
    episode.post("treatment-plans", b.plan(), days=21)
    episode.post("outcomes", b.outcome(score=Decimal(46)), days=27)
    episode.post("biologics", b.prp(), days=28)
    prp_version = 8
    episode.post(
        "outcomes", b.outcome(score=Decimal(30), follows_version=prp_version), days=70
    )
    episode.post("consult-notes", b.consult_note(), days=71)
    return episode


def cauda_equina(api, *, referred_after_hours: float) -> Episode:
    """A red flag at screening, then an emergent surgery referral some hours later."""
    episode = Episode(api, receiving_service="emergency", red_flags=[])
    episode.post("red-flag-screenings", b.screening(flags=["cauda_equina"],
                 disposition="emergency_referral"), days=1)  # fmt: skip
    referral = b.surgery_referral(
        urgency="emergent", intent="decompression", indication="red_flag",
        justification="cauda equina syndrome: urinary retention, saddle anaesthesia",
    )  # fmt: skip
    episode.post("surgery-referrals", referral, days=1, hours=referred_after_hours)
    return episode


def test_the_seed_pipeline_is_flagged_r1_r2_and_r4(api):
    # R3: no conservative care at all; R6: the second ESI has no outcome after the
    # first; R8: neither ESI has a baseline; R10: no consult note to primary care.
    assert seed_pipeline(api).rules() == {"R1", "R2", "R3", "R4", "R6", "R8", "R10"}


def test_the_seed_pipeline_with_conservative_care_is_flagged_r1_and_r2_not_r4(api):
    rules = seed_pipeline(api, conservative_care=True).rules()
    # 58 days of conservative care clear R3 and R4; R6, R8 and R10 stay as without it.
    assert rules == {"R1", "R2", "R6", "R8", "R10"}


def test_the_flipped_pathway_has_no_high_or_critical_finding(api):
    row = flipped_pathway(api).audit().json()
    # rule set v2: the consult note of day 71 came late, so R10 stays, and says when
    [r10] = row["findings"]
    assert (r10["rule"], r10["severity"], r10["referrer_id"]) == (
        "R10",
        "medium",
        "dr-pc-1",
    )
    assert "got its consult note on 2026-05-12" in r10["detail"]
    assert row["pathway"][:2] == ["primary_care", "pain_medicine"]
    assert row["metrics"]["days_to_pain_generator"] == 19
    assert (row["rules_version"], row["rules_profile"]) == (2, "payer")


def test_a_cauda_equina_episode_referred_emergently_in_time_is_exempt_and_has_no_r9(
    api,
):
    row = cauda_equina(api, referred_after_hours=2).audit().json()
    assert row["red_flag_exempt"] is True
    # exempt from R1-R4, in time for R9; only the primary-care loop is open (R10)
    assert {f["rule"] for f in row["findings"]} == {"R10"}


def test_a_cauda_equina_episode_referred_late_meets_r9_as_critical(api):
    row = cauda_equina(api, referred_after_hours=7).audit().json()
    [r9] = [f for f in row["findings"] if f["rule"] == "R9"]
    assert r9["severity"] == "critical" and r9["at_version"] == 2
    assert r9["surgeon_id"] == "dr-ss-1"
    [referral] = row["surgery_referrals"]
    assert (referral["red_flags"], referral["red_flag_exempt"]) == (
        ["cauda_equina"],
        True,
    )
    assert referral["findings"] == ["R9"]
    assert row["red_flag_exempt"] is True
    # exempt from R1-R4; besides R9 only the primary-care loop is open (R10)
    assert {f["rule"] for f in row["findings"]} == {"R9", "R10"}


def test_the_list_filters_by_rule_severity_referrer_surgeon_and_dates(api):
    seed = seed_pipeline(api)
    late = cauda_equina(api, referred_after_hours=7)
    flipped = flipped_pathway(api)
    wait = {"min_position": flipped.position}

    def ids(**params) -> list[str]:
        response = api.get("/audit/referral-loops", params={**wait, **params})
        assert response.status_code == 200, response.text
        return [item["episode_id"] for item in response.json()["items"]]

    assert ids(rule="R1") == [seed.id]
    assert ids(severity="critical") == [late.id]
    assert ids(surgeon_id="dr-ss-1", rule="R2") == [seed.id]
    assert ids(referrer_id="dr-nobody") == []
    assert set(ids(flagged_only="false")) == {seed.id, late.id, flipped.id}
    after = quote((b.at(0) + timedelta(hours=1)).isoformat())
    assert api.get(f"/audit/referral-loops?occurred_from={after}").json()["items"] == []


def test_the_rule_filter_takes_a_rule_id_or_its_name(api):
    seed = seed_pipeline(api)
    flipped = flipped_pathway(api)
    wait = {"min_position": flipped.position}

    def ids(rule: str) -> list[str]:
        response = api.get("/audit/referral-loops", params={**wait, "rule": rule})
        assert response.status_code == 200, response.text
        return [item["episode_id"] for item in response.json()["items"]]

    assert ids("R8") == ids("outcome_not_measured") == [seed.id]
    # both opened at the same instant: listed in episode-id order
    assert ids("R10") == ids("referral_loop_open") == sorted([seed.id, flipped.id])
    assert ids("R11") == []


def test_an_unknown_rule_is_422_listing_the_allowed_ones(api):
    response = api.get("/audit/referral-loops", params={"rule": "R12"})
    body = assert_problem(response, 422, "invalid-request")
    [error] = body["errors"]
    assert error["field"] == "rule" and "R11" in error["allowed"]
    assert "surgery_without_referral" in error["allowed"]


def test_the_list_says_whether_it_shows_flagged_episodes_only(api):
    seed = seed_pipeline(api)
    wait = {"min_position": seed.position}
    default = api.get("/audit/referral-loops", params=wait).json()
    every = api.get("/audit/referral-loops", params={**wait, "flagged_only": "false"})
    assert default["flagged_only"] is True and every.json()["flagged_only"] is False


def test_the_list_pages_by_cursor(api):
    episodes = [seed_pipeline(api) for _ in range(3)]
    seen, cursor = [], None
    while True:
        params = {"limit": 2, "min_position": episodes[-1].position}
        if cursor:
            params["after"] = cursor
        page = api.get("/audit/referral-loops", params=params).json()
        seen += [item["episode_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(e.id for e in episodes) and len(seen) == 3


def test_a_physician_sees_only_the_audit_rows_of_episodes_it_referred(api):
    mine = seed_pipeline(api)
    theirs = Episode(
        api, referrer={"id": "dr-else", "name": "E", "role": "primary_care"}
    )
    theirs.post("surgery-referrals", b.surgery_referral(), days=2)
    listed = api.get(
        "/audit/referral-loops",
        role="physician",
        params={"min_position": theirs.position},
    ).json()["items"]
    assert [item["episode_id"] for item in listed] == [mine.id]
    assert mine.audit(role="physician").status_code == 200
    assert_problem(theirs.audit(role="physician"), 403, "forbidden")


def test_audit_reads_land_in_the_access_log(api):
    seed = seed_pipeline(api)
    seed.audit(role="clinician")
    api.get(
        "/audit/referral-loops",
        role="clinician",
        params={"min_position": seed.position},
    )
    entries = api.get("/audit/access-log", params={"episode_id": seed.id}).json()[
        "items"
    ]
    assert [(e["action"], e["principal_id"]) for e in entries] == [
        ("GET /audit/referral-loops", "clin-ana"),
        ("GET /audit/referral-loops/{episode_id}", "clin-ana"),
    ]


def test_the_summary_counts_rules_referrers_surgeons_and_metrics(api):
    seed_pipeline(api)
    cauda_equina(api, referred_after_hours=7)
    flipped = flipped_pathway(api)
    response = api.get(
        "/audit/referral-loops/summary", params={"min_position": flipped.position}
    )
    summary = response.json()
    assert summary["episodes"] == 3
    by_rule = {count["key"].split()[0]: count for count in summary["by_rule"]}
    assert by_rule["R1"]["flagged"] == 1 and by_rule["R9"]["flagged"] == 1
    assert by_rule["R1"]["rate"] == pytest.approx(1 / 3, abs=0.001)
    [surgeon] = summary["by_surgeon"]
    assert surgeon["key"] == "dr-ss-1" and surgeon["episodes"] == 2
    assert summary["metrics"]["median_days_to_pain_generator"] == 19
    assert_problem(
        api.get("/audit/referral-loops/summary", role="physician"), 403, "forbidden"
    )


def test_a_read_that_waits_for_a_position_never_reached_answers_503(api, monkeypatch):
    monkeypatch.setattr(api.client.app.state.settings, "read_wait_timeout", 0.2)
    seed = seed_pipeline(api)
    response = api.get(
        f"/audit/referral-loops/{seed.id}",
        params={"min_position": seed.position + 1000},
    )
    assert_problem(response, 503, "read-model-behind")
    assert response.headers["retry-after"] == "1"


def test_an_episode_not_yet_audited_is_404(api):
    assert_problem(
        api.get(f"/audit/referral-loops/{uuid4()}"), 404, "episode-not-found"
    )


def test_a_rebuild_gives_identical_rows(api, api_settings):
    seed_pipeline(api)
    cauda_equina(api, referred_after_hours=7)
    last = flipped_pathway(api)
    api.get("/audit/referral-loops/summary", params={"min_position": last.position})
    container = api.client.app.state.container
    projection = container.projection("referral_audit")
    before = ps.actual_views(container.read_models, projection)
    generation = rebuild(container.episodes, api_settings, projection)
    after = ps.actual_views(container.read_models, projection)
    assert generation.generation > 0
    assert after == before and len(before["findings"]) > 5


def test_projections_report_their_progress(api):
    seed = seed_pipeline(api)
    seed.audit()
    [status] = [
        s
        for s in api.get("/projections").json()["projections"]
        if s["name"] == "referral_audit"
    ]
    assert status["name"] == "referral_audit" and status["position"] >= seed.position
    assert status["state"] in ("active", "standby") and status["last_error"] is None
