"""Webhook subscriptions over HTTP: who may subscribe, what is refused, and the
feed pushed to a real receiver by the embedded sender."""

from __future__ import annotations

import time
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from tests.integration.webhook_receiver import SECRET, Receiver
from tests.support.http import PHYSICIAN_ID, Api, assert_problem, auth

SUBSCRIPTIONS = f"/physicians/{PHYSICIAN_ID}/subscriptions"
HTTPS = "https://ehr.example.org/hooks/care-feed"


def subscribe(api, role: str = "physician", **body):
    return api.client.post(
        SUBSCRIPTIONS,
        json={"endpoint": HTTPS, "secret": SECRET, **body},
        headers=auth(role),
    )


@pytest.fixture
def pushing(api_settings):
    """The API with its embedded webhook sender, loopback http allowed, fast retries."""
    settings = api_settings.model_copy(
        update={
            "webhooks_in_process": True,
            "webhook_allow_loopback_http": True,
            "webhook_backoff_base": 0.05,
            "webhook_backoff_max": 0.2,
            "webhook_poll_interval": 0.05,
            "webhook_max_failures": 3,
        }
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield Api(client)


def test_a_physician_subscribes_to_its_feed_and_sees_the_subscription(api):
    created = subscribe(api, types=["OutcomeRecorded", "ConsultNoteSent"])
    assert created.status_code == 201, created.text
    body = created.json()
    assert created.headers["location"] == f"{SUBSCRIPTIONS}/{body['subscription_id']}"
    assert "secret" not in body and SECRET not in created.text
    assert (body["status"], body["cursor"], body["delivered"]) == ("active", None, 0)
    assert body["types"] == ["OutcomeRecorded", "ConsultNoteSent"]
    listed = api.get(SUBSCRIPTIONS, role="physician").json()["items"]
    assert [s["subscription_id"] for s in listed] == [body["subscription_id"]]
    assert SECRET not in api.get(SUBSCRIPTIONS).text


@pytest.mark.parametrize(
    ("endpoint", "words"),
    [
        ("http://ehr.example.org/hooks", "must be https"),
        ("http://127.0.0.1:8080/hooks", "CARE_WEBHOOK_ALLOW_LOOPBACK_HTTP"),
        ("ftp://ehr.example.org/hooks", "must be https"),
        ("https://user:pw@ehr.example.org/hooks", "credentials"),
        ("https:///nohost", "no host"),
    ],
)
def test_an_endpoint_that_is_not_https_is_refused(api, endpoint, words):
    body = assert_problem(subscribe(api, endpoint=endpoint), 422, "invalid-request")
    assert words in body["detail"]
    assert body["errors"][0]["field"] == "endpoint"


@pytest.mark.parametrize(
    "secret", ["plain-text", "whsec_not*base64", "whsec_" + "QUJD", ""]
)
def test_a_secret_that_is_not_a_standard_webhooks_secret_is_refused(api, secret):
    response = subscribe(api, secret=secret)
    assert_problem(response, 422, "invalid-request")
    assert "secret" in response.text


def test_an_unknown_item_type_is_refused_listing_the_types(api):
    response = subscribe(api, types=["OutcomeRecorded", "Gossip"])
    assert_problem(response, 422, "invalid-request")
    assert "ConsultNoteSent" in response.text


def test_a_physician_may_not_subscribe_to_another_physicians_feed(api):
    response = api.client.post(
        "/physicians/dr-someone/subscriptions",
        json={"endpoint": HTTPS, "secret": SECRET},
        headers=auth("physician"),
    )
    assert_problem(response, 403, "forbidden")


def test_a_service_may_subscribe_for_a_physician(api):
    assert subscribe(api, role="service").status_code == 201


def test_a_subscription_is_deleted_and_then_unknown(api):
    sub_id = subscribe(api).json()["subscription_id"]
    url = f"{SUBSCRIPTIONS}/{sub_id}"
    assert api.client.delete(url, headers=auth("physician")).status_code == 204
    assert api.get(SUBSCRIPTIONS, role="physician").json()["items"] == []
    again = api.client.delete(url, headers=auth("physician"))
    assert_problem(again, 404, "subscription-not-found")


def test_resuming_an_unknown_subscription_is_404(api):
    response = api.client.post(
        f"{SUBSCRIPTIONS}/{uuid4()}/resume", json={}, headers=auth("physician")
    )
    assert_problem(response, 404, "subscription-not-found")


def test_the_feed_is_pushed_signed_in_order_paused_when_down_and_resumed(pushing):
    api = pushing
    receiver = Receiver().start()
    try:
        # given a subscription from the start of the feed, to a live receiver
        created = subscribe(api, endpoint=receiver.url, after=None)
        sub_id = created.json()["subscription_id"]
        episode_id = api.open()
        api.command(episode_id, "diagnostics", days=1)
        # then the items arrive, each as the feed shows it
        receiver.wait_for(lambda: len(receiver.accepted()) == 2)
        feed = api.get(f"/physicians/{PHYSICIAN_ID}/feed", role="physician").json()
        pushed = [r.body["data"] for r in receiver.accepted()]
        assert [p["cursor"] for p in pushed] == [i["cursor"] for i in feed["items"]]
        assert [p["type"] for p in pushed] == [
            "ReferralReceived",
            "DiagnosticCompleted",
        ]
        assert all(r.signature_valid for r in receiver.receipts)
        # when the receiver goes away, three failures pause the subscription
        receiver.stop()
        api.command(episode_id, "outcomes", days=2)
        wait_for_status(api, "paused")
        [listed] = api.get(SUBSCRIPTIONS, role="physician").json()["items"]
        assert listed["failures"] == 3 and listed["last_error"]
        assert listed["cursor"] == feed["items"][-1]["cursor"]
        # and once it is back and the subscription resumed, delivery goes on
        receiver.start()
        resumed = api.client.post(
            f"{SUBSCRIPTIONS}/{sub_id}/resume", json={}, headers=auth("physician")
        )
        assert resumed.status_code == 200 and resumed.json()["status"] == "active"
        receiver.wait_for(lambda: len(receiver.accepted()) == 3)
        assert receiver.accepted()[-1].body["data"]["type"] == "OutcomeRecorded"
        wait_for_status(api, "active", delivered=3)
    finally:
        receiver.stop()


def test_a_delivery_lands_in_the_access_log_as_a_disclosure(pushing):
    api = pushing
    receiver = Receiver().start()
    try:
        created = subscribe(api, endpoint=receiver.url)
        sub_id = created.json()["subscription_id"]
        episode_id = api.open()
        receiver.wait_for(lambda: len(receiver.accepted()) == 1)
        wait_for_status(api, "active", delivered=1)
    finally:
        receiver.stop()
    log = api.get("/audit/access-log", params={"episode_id": episode_id}).json()
    [entry] = [e for e in log["items"] if e["action"] == f"WEBHOOK {sub_id}"]
    assert (entry["principal_id"], entry["outcome"]) == ("phys-1", "disclosed")


def wait_for_status(api, status: str, delivered: int | None = None) -> dict:
    deadline = time.monotonic() + 20
    while True:
        [sub] = api.get(SUBSCRIPTIONS, role="physician").json()["items"]
        if sub["status"] == status and delivered in (None, sub["delivered"]):
            return sub
        assert time.monotonic() < deadline, sub
        time.sleep(0.05)
