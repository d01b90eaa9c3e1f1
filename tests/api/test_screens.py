"""The screens (/ui/) through a TestClient on each backend: login and CSRF, the same
roles, scoping and access log as the API, and what each screen shows."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from infra.settings import Settings
from tests.api.screens_support import (
    UI_SECRET,
    access_entries,
    amend,
    csrf_of,
    log_in,
    logged_in,
)
from tests.support.http import Api


@pytest.fixture
def screens(api_settings: Settings) -> Iterator[Api]:
    # https: the session cookie is Secure, so a client over http would not send it.
    secret = SecretStr(UI_SECRET)
    settings = api_settings.model_copy(update={"ui_session_secret": secret})
    app = create_app(settings)
    with TestClient(
        app, base_url="https://testserver", raise_server_exceptions=False
    ) as client:
        yield Api(client)


def caught_up(api: Api, position: int) -> None:
    """Wait (as staff, through the API) until every read model has `position`."""
    for url in ("/worklist", "/audit/referral-loops/summary"):
        response = api.get(url, role="service", params={"min_position": position})
        assert response.status_code == 200, response.text


def opened(api: Api, patient: str, **referral) -> tuple[str, int]:
    response = api.client.post(
        "/episodes",
        json={
            "occurred_at": "2026-03-02T09:00:00+00:00",
            "patient_id": patient,
            "referrer": referral.pop(
                "referrer",
                {"id": "dr-pc-1", "name": "Dr Primary", "role": "primary_care"},
            ),
            "receiving_service": "pain_medicine",
            "reason": "low back pain for 8 weeks",
            **referral,
        },
        headers={"Authorization": "Bearer tok-service-0123456789"},
    )
    assert response.status_code == 201, response.text
    return response.json()["episode_id"], response.json()["position"]


def command(api: Api, episode: str, path: str, body: dict, day: int) -> int:
    response = api.client.post(
        f"/episodes/{episode}/{path}",
        json={"occurred_at": f"2026-03-{day:02d}T10:00:00+00:00", **body},
        headers={"Authorization": "Bearer tok-clinician-0123456789"},
    )
    assert response.status_code == 201, response.text
    return response.json()["position"]


# -- login, sessions and CSRF --------------------------------------------------


def test_logging_in_sets_a_signed_secure_http_only_strict_session_cookie(screens):
    response = log_in(screens, "clinician")
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/worklist"
    cookie = next(
        v
        for k, v in response.headers.multi_items()
        if k == "set-cookie" and v.startswith("care_ui_session=")
    )
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"secure", "httponly", "samesite=strict", "path=/ui"} <= attributes
    assert "tok-clinician" not in cookie  # the cookie never holds the token


def test_each_role_starts_on_its_own_screen(screens):
    starts = {
        "clinician": "/ui/worklist",
        "service": "/ui/worklist",
        "auditor": "/ui/audit",
        "physician": "/ui/physician",
    }
    for role, start in starts.items():
        assert log_in(screens, role).headers["location"] == start


def test_a_wrong_token_is_refused_with_the_form_again_and_logged(screens):
    form = screens.client.get("/ui/login")
    response = screens.client.post(
        "/ui/login",
        data={"token": "not-a-token-at-all", "csrf_token": csrf_of(form.text)},
    )
    assert response.status_code == 401
    assert "That token is not valid." in response.text
    assert "care_ui_session" not in response.cookies
    last = access_entries(screens, "-")[-1]
    assert (last.action, last.outcome) == ("POST /ui/login", "unauthenticated")


def test_a_login_without_the_forms_csrf_token_is_refused(screens):
    screens.client.get("/ui/login")
    response = screens.client.post(
        "/ui/login", data={"token": "tok-clinician-0123456789", "csrf_token": "forged"}
    )
    assert response.status_code == 403
    assert "The form has expired" in response.text
    assert "care_ui_session" not in response.cookies


def test_a_login_from_a_page_that_never_got_the_form_is_refused(screens):
    # A cross-site form: no login cookie comes with it (SameSite=Strict).
    response = screens.client.post(
        "/ui/login", data={"token": "tok-clinician-0123456789", "csrf_token": ""}
    )
    assert response.status_code == 403


def test_a_form_without_the_sessions_csrf_token_is_refused_and_logged(screens):
    logged_in(screens, "clinician")
    response = screens.client.post("/ui/logout", data={"csrf_token": "guess"})
    assert response.status_code == 403
    assert "The form has expired" in response.text
    # The session still stands: the forged logout did nothing.
    assert screens.client.get("/ui/worklist").status_code == 200
    refused = [e for e in access_entries(screens, "clin-ana") if e.outcome == "denied"]
    assert [(e.action, e.episode_ids) for e in refused] == [("POST /ui/logout", [])]


def test_a_form_post_with_no_csrf_field_at_all_is_refused(screens):
    logged_in(screens, "clinician")
    response = screens.client.post("/ui/logout", data={})
    assert response.status_code == 403


def test_logging_out_ends_the_session(screens):
    logged_in(screens, "clinician")
    page = screens.client.get("/ui/worklist")
    response = screens.client.post(
        "/ui/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    assert (response.status_code, response.headers["location"]) == (303, "/ui/login")
    after = screens.client.get("/ui/worklist", follow_redirects=False)
    assert after.status_code == 303
    assert after.headers["location"] == "/ui/login?next=%2Fui%2Fworklist"


def test_a_page_without_a_session_sends_the_browser_to_the_login_form(screens):
    response = screens.client.get("/ui/audit?x=1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/login?next=%2Fui%2Faudit%3Fx%3D1"


def test_a_tampered_session_cookie_counts_as_no_session(screens):
    logged_in(screens, "auditor")
    value = screens.client.cookies.get("care_ui_session")
    screens.client.cookies.clear()
    screens.client.cookies.set("care_ui_session", value[:-2] + "xx", path="/ui")
    response = screens.client.get("/ui/audit", follow_redirects=False)
    assert response.status_code == 303


def test_login_goes_back_to_the_page_asked_for_but_never_off_the_site(screens):
    assert log_in(screens, "auditor", "/ui/audit/episodes").headers["location"] == (
        "/ui/audit/episodes"
    )
    for target in ("//evil.example/ui/", "https://evil.example/", "/docs"):
        assert log_in(screens, "auditor", target).headers["location"] == "/ui/audit"


def test_screens_answer_with_security_headers(screens):
    logged_in(screens, "clinician")
    response = screens.client.get("/ui/worklist")
    assert response.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"


def test_the_screens_are_not_in_the_openapi_document(screens):
    paths = screens.client.get("/openapi.json").json()["paths"]
    assert [path for path in paths if path.startswith("/ui")] == []


def test_the_assets_are_served_from_the_package(screens):
    assert "skip-link" in screens.client.get("/ui/static/ui.css").text
    assert "data-refresh-url" in screens.client.get("/ui/static/ui.js").text


# -- worklist -----------------------------------------------------------------


def test_the_worklist_shows_my_tasks_and_all_tasks_urgent_first(screens):
    mine, _ = opened(screens, "pat-mine")
    urgent, _ = opened(screens, "pat-urgent", red_flags=["cauda_equina"])
    position = command(
        screens,
        mine,
        "assignments",
        {"clinician_id": "clin-ana", "clinician_name": "Ana"},
        3,
    )
    caught_up(screens, position)
    logged_in(screens, "clinician")
    my_page = screens.client.get("/ui/worklist").text
    assert "pat-mine" in my_page and "pat-urgent" not in my_page
    assert '<h2 id="tasks-heading">My tasks</h2>' in my_page
    everything = screens.client.get("/ui/worklist?show=all").text
    assert everything.index("pat-urgent") < everything.index("pat-mine")
    assert 'class="badge badge-urgent">urgent</span>' in everything
    assert "overdue, due" in everything  # T0 was long ago: every task is overdue
    assert {urgent, mine} <= set(_linked_episodes(everything))


def test_the_worklist_filters_by_kind(screens):
    _, position = opened(screens, "pat-one")
    caught_up(screens, position)
    logged_in(screens, "clinician")
    rows = screens.client.get("/ui/worklist/rows?show=all&kind=screening_due").text
    assert rows.count("<tr class=") == 1
    assert "screening due" in rows and "baseline outcome due" not in rows


def test_an_unknown_filter_value_answers_a_422_page(screens):
    logged_in(screens, "clinician")
    response = screens.client.get("/ui/worklist?kind=nonsense")
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    assert "kind: &#39;nonsense&#39; is not one of" in response.text


def test_a_worklist_view_is_in_the_access_log_with_the_episodes_shown(screens):
    episode, position = opened(screens, "pat-logged")
    caught_up(screens, position)
    logged_in(screens, "clinician")
    screens.client.get("/ui/worklist?show=all")
    screens.client.get("/ui/worklist/rows?show=all")
    entries = [e for e in access_entries(screens, "clin-ana") if "/ui/" in e.action]
    assert [(e.action, e.outcome) for e in entries] == [
        ("GET /ui/worklist", "disclosed"),
        ("GET /ui/worklist/rows", "disclosed"),
    ]
    assert [set(e.episode_ids) for e in entries] == [{UUID(episode)}] * 2


def test_a_physician_sees_only_the_tasks_of_its_own_patients(screens):
    opened(screens, "pat-own")
    _, position = opened(
        screens,
        "pat-foreign",
        referrer={"id": "dr-other", "name": "Dr Other", "role": "primary_care"},
    )
    caught_up(screens, position)
    logged_in(screens, "physician")
    page = screens.client.get("/ui/worklist").text
    assert "pat-own" in page and "pat-foreign" not in page
    assert "Open tasks now" not in page  # the counts span every physician


# -- episode timeline ---------------------------------------------------------


def test_the_timeline_lists_every_event_in_clinical_time_with_actor_and_recording(
    screens,
):
    episode, _ = opened(screens, "pat-time")
    # Recorded second, but it happened first of the two later events.
    command(screens, episode, "outcomes", {"instrument": "odi", "score": 30}, 20)
    command(
        screens, episode, "red-flag-screenings", {"flags": [], "disposition": "none"}, 5
    )
    logged_in(screens, "clinician")
    page = screens.client.get(f"/ui/episodes/{episode}").text
    order = [page.index(f'id="v{v}"') for v in (1, 3, 2)]
    assert order == sorted(order)
    assert "recorded" in page and "by svc-intake (service)" in page
    assert "by clin-ana (clinician)" in page


def test_an_amendment_shows_beside_the_event_it_corrects(screens):
    episode, _ = opened(screens, "pat-amend")
    command(screens, episode, "outcomes", {"instrument": "odi", "score": 46}, 3)
    amend(screens, episode, 2, "transcription error", score=36)
    logged_in(screens, "clinician")
    page = screens.client.get(f"/ui/episodes/{episode}").text
    moment = page[page.index('id="v2"') :]
    moment = moment[: moment.index("</li>\n")]
    assert "Amended at version 3" in moment
    assert "Reason: transcription error" in moment
    assert "<del>46</del> → <ins>36</ins>" in moment
    assert 'id="v3"' not in page  # the amendment is not an event of its own here


def test_outcome_scores_are_plotted_with_the_meaningful_change_band(screens):
    episode, _ = opened(screens, "pat-odi")
    command(screens, episode, "outcomes", {"instrument": "odi", "score": 46}, 3)
    command(screens, episode, "outcomes", {"instrument": "odi", "score": 30}, 30)
    logged_in(screens, "clinician")
    page = screens.client.get(f"/ui/episodes/{episode}").text
    assert page.count('<svg class="chart"') == 1
    assert 'data-instrument="odi"' in page
    # ODI: 10 points or 30 % of 46 (13.8), whichever is smaller: 36 to 56.
    assert "no meaningful change: 36 to 56" in page
    assert page.count('<circle class="point') == 2
    assert "meaningful improvement" in page


def test_the_timeline_shows_audit_findings_at_the_version_they_fired(screens):
    episode, _ = opened(screens, "pat-audit", receiving_service="spine_surgery")
    position = command(
        screens,
        episode,
        "surgery-referrals",
        {
            "surgeon": {"id": "dr-ss-1", "name": "Dr Surgeon"},
            "urgency": "elective",
            "intent": "fusion",
            "indication": "failed_conservative_care",
            "justification": "persistent pain",
        },
        4,
    )
    caught_up(screens, position)
    logged_in(screens, "auditor")
    page = screens.client.get(f"/ui/episodes/{episode}").text
    findings = screens.get(f"/audit/referral-loops/{episode}").json()["findings"]
    assert findings  # an elective fusion referral with nothing before it
    for finding in findings:
        assert f'fired at <a href="#v{finding["at_version"]}">' in page
        assert f"<strong>{finding['rule']} " in page
    assert "Finding appeared at version 2" in page


def test_a_physician_is_refused_another_physicians_episode_and_it_is_logged(screens):
    foreign, _ = opened(
        screens,
        "pat-foreign",
        referrer={"id": "dr-other", "name": "Dr Other", "role": "primary_care"},
    )
    logged_in(screens, "physician")
    response = screens.client.get(f"/ui/episodes/{foreign}")
    assert response.status_code == 403
    assert "pat-foreign" not in response.text
    last = access_entries(screens, "phys-1")[-1]
    assert (last.action, last.episode_ids, last.outcome) == (
        "GET /ui/episodes/{episode_id}",
        [UUID(foreign)],
        "denied",
    )


def test_an_unknown_episode_answers_404_to_staff_and_403_to_a_physician(screens):
    unknown = "00000000-0000-4000-8000-000000000000"
    logged_in(screens, "clinician")
    assert screens.client.get(f"/ui/episodes/{unknown}").status_code == 404
    logged_in(screens, "physician")
    assert screens.client.get(f"/ui/episodes/{unknown}").status_code == 403


def test_opening_a_timeline_is_logged_as_a_disclosure_of_that_episode(screens):
    episode, _ = opened(screens, "pat-seen")
    logged_in(screens, "physician")
    assert screens.client.get(f"/ui/episodes/{episode}").status_code == 200
    last = access_entries(screens, "phys-1")[-1]
    assert (last.action, last.episode_ids, last.outcome) == (
        "GET /ui/episodes/{episode_id}",
        [UUID(episode)],
        "disclosed",
    )


# -- audit dashboard ----------------------------------------------------------


def test_the_dashboard_shows_rates_per_rule_referrer_and_surgeon_and_the_flow(screens):
    episode, _ = opened(screens, "pat-flow")
    command(
        screens,
        episode,
        "referrals",
        {
            "referrer": {"id": "dr-pc-1", "name": "Dr Primary", "role": "primary_care"},
            "receiving_service": "spine_surgery",
            "reason": "surgical opinion",
        },
        6,
    )
    _, position = opened(screens, "pat-other")
    caught_up(screens, position)
    logged_in(screens, "auditor")
    page = screens.client.get("/ui/audit").text
    summary = screens.get("/audit/referral-loops/summary").json()
    assert f"{summary['episodes']} episodes audited" in page
    for count in summary["by_rule"]:
        rule = count["key"].split(" ")[0]
        assert f'href="/ui/audit/episodes?rule={rule}"' in page
    assert 'href="/ui/audit/episodes?referrer_id=dr-pc-1"' in page
    assert '<svg class="flow"' in page
    # A pathway is the referrer's service, then each receiving one: both episodes
    # went primary care → pain medicine; one went on, back through primary care.
    edges = page[page.index("<caption>Pathway edges") :]
    rows = [
        row.split("</tr>")[0]
        for row in edges[: edges.index("</tbody>")].split("<tr><td")[1:]
    ]
    assert [_cells(row) for row in rows] == [
        ["1 → 2", "primary care", "pain medicine", "2"],
        ["2 → 3", "pain medicine", "primary care", "1"],
        ["3 → 4", "primary care", "spine surgery", "1"],
    ]


def _cells(row: str) -> list[str]:
    return [cell.split(">", 1)[1] for cell in row.split("</td>")[:-1]]


def test_the_drill_down_lists_the_episodes_behind_a_figure(screens):
    flagged, _ = opened(screens, "pat-flagged", receiving_service="spine_surgery")
    position = command(
        screens,
        flagged,
        "surgery-referrals",
        {
            "surgeon": {"id": "dr-ss-1", "name": "Dr Surgeon"},
            "urgency": "elective",
            "intent": "fusion",
            "indication": "failed_conservative_care",
            "justification": "persistent pain",
        },
        4,
    )
    caught_up(screens, position)
    logged_in(screens, "auditor")
    page = screens.client.get("/ui/audit/episodes?surgeon_id=dr-ss-1").text
    assert _linked_episodes(page) == [flagged]
    empty = screens.client.get("/ui/audit/episodes?surgeon_id=dr-nobody").text
    assert _linked_episodes(empty) == []


def test_a_physician_may_not_open_the_dashboard_and_the_refusal_is_logged(screens):
    logged_in(screens, "physician")
    response = screens.client.get("/ui/audit")
    assert response.status_code == 403
    assert "your role does not allow this request" in response.text
    last = access_entries(screens, "phys-1")[-1]
    assert (last.action, last.outcome) == ("GET /ui/audit", "denied")


# -- physician view -----------------------------------------------------------


def test_a_physician_sees_its_own_feed_and_patients_only(screens):
    own, _ = opened(screens, "pat-own")
    _, position = opened(
        screens,
        "pat-foreign",
        referrer={"id": "dr-other", "name": "Dr Other", "role": "primary_care"},
    )
    response = screens.get(
        "/physicians/dr-pc-1/feed", role="service", params={"min_position": position}
    )
    assert response.status_code == 200
    logged_in(screens, "physician")
    page = screens.client.get("/ui/physician").text
    assert "<h1>My feed and patients</h1>" in page
    assert set(_linked_episodes(page)) == {own}
    assert "pat-foreign" not in page
    last = access_entries(screens, "phys-1")[-1]
    assert (last.action, last.outcome) == ("GET /ui/physician", "disclosed")
    assert set(last.episode_ids) == {UUID(own)}


def test_a_physician_may_not_read_another_physicians_feed(screens):
    logged_in(screens, "physician")
    response = screens.client.get("/ui/physician?physician_id=dr-other")
    assert response.status_code == 403
    last = access_entries(screens, "phys-1")[-1]
    assert (last.action, last.outcome) == ("GET /ui/physician", "denied")


def test_staff_choose_whose_feed_and_patients_to_see(screens):
    own, position = opened(screens, "pat-own")
    screens.get(
        "/physicians/dr-pc-1/feed", role="service", params={"min_position": position}
    )
    logged_in(screens, "clinician")
    assert _linked_episodes(screens.client.get("/ui/physician").text) == []
    page = screens.client.get("/ui/physician?physician_id=dr-pc-1").text
    assert set(_linked_episodes(page)) == {own}


def _linked_episodes(html: str) -> list[str]:
    """The episodes a page links to, in order, each once."""
    found: list[str] = []
    for part in html.split('href="/ui/episodes/')[1:]:
        episode = part[:36]
        if episode not in found:
            found.append(episode)
    return found
