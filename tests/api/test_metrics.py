"""GET /metrics: Prometheus text whose figures move as the service works."""

from __future__ import annotations

import re

from prometheus_client.parser import text_string_to_metric_families

from tests.support import builders as b
from tests.support.http import auth, json_body


def scrape(api) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the metrics page, by name and sorted labels."""
    response = api.client.get("/metrics", headers=auth("service"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_requests_are_counted_by_route_template_and_status(api):
    before = scrape(api)
    episode_id = api.open()
    api.get(f"/episodes/{episode_id}")
    api.get(f"/episodes/{episode_id}")
    after = scrape(api)
    route = {"method": "GET", "route": "/episodes/{episode_id}", "status": "200"}
    counted = value(after, "care_http_requests_total", **route) - value(
        before, "care_http_requests_total", **route
    )
    assert counted == 2
    latency = {"method": "GET", "route": "/episodes/{episode_id}"}
    assert value(after, "care_http_request_duration_seconds_count", **latency) >= 2


def test_commands_replays_and_conflicts_are_counted_by_command(api):
    before = scrape(api)
    episode_id = api.open()
    keyed = {"Idempotency-Key": "retry-1"}
    for _ in range(2):
        api.command(episode_id, "diagnostics", headers=keyed)
    stale = api.command(episode_id, "outcomes", headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    after = scrape(api)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("care_commands_total", command="open_episode", outcome="recorded") == 1
    assert (
        moved("care_commands_total", command="record_diagnostic", outcome="recorded")
        == 1
    )
    assert (
        moved("care_commands_total", command="record_diagnostic", outcome="replayed")
        == 1
    )
    assert moved("care_idempotent_replays_total", command="record_diagnostic") == 1
    assert (
        moved(
            "care_command_conflicts_total",
            command="record_outcome",
            kind="version_mismatch",
        )
        == 1
    )


def test_access_log_writes_are_counted_by_outcome(api):
    before = scrape(api)
    episode_id = api.open()
    api.get(f"/episodes/{episode_id}")
    api.get(f"/episodes/{episode_id}", role="other_physician")
    after = scrape(api)
    for outcome in ("disclosed", "denied"):
        name = "care_access_log_entries_total"
        assert (
            value(after, name, outcome=outcome) - value(before, name, outcome=outcome)
            == 1
        )


def test_projection_progress_and_the_pool_are_reported(api):
    opened = api.client.post(
        "/episodes", json=json_body(b.referral(), 0), headers=auth("service")
    ).json()
    # the audit catches up (min_position waits for it)
    api.get(f"/audit/referral-loops/{opened['episode_id']}",
            params={"min_position": opened["position"]})  # fmt: skip
    samples = scrape(api)
    audit = {"projection": "referral_audit"}
    assert value(samples, "care_projection_position", **audit) >= opened["position"]
    assert value(samples, "care_projection_head", **audit) >= opened["position"]
    assert value(samples, "care_projection_failed", **audit) == 0
    assert ("care_db_pool_connections_in_use", ()) in samples
    assert ("care_db_pool_requests_waiting", ()) in samples


def test_no_label_carries_patient_or_episode_data(api):
    episode_id = api.open(patient_id="pt-secret-77")
    api.get(f"/episodes/{episode_id}")
    text = api.client.get("/metrics", headers=auth("auditor")).text
    assert "pt-secret-77" not in text
    assert episode_id not in text
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-", text)


def test_metrics_need_a_staff_token(api):
    assert api.client.get("/metrics").status_code == 401
    assert api.client.get("/metrics", headers=auth("physician")).status_code == 403
