"""Webhook deliveries: Standard Webhooks signatures, stable ids, endpoint rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from api.paging import encode_cursor
from api.schemas.feeds import CURSOR
from infra.webhooks.endpoints import endpoint_problem
from infra.webhooks.message import check_secret, feed_cursor, message_id, signed

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ITEM = {
    "seq": 42,
    "episode_id": "b6f97e80-fb7c-49f8-837c-73a439fdaa5d",
    "patient_id": "pt-0001",
    "version": 7,
    "type": "OutcomeRecorded",
    "occurred_at": datetime(2026, 3, 9, 9, tzinfo=UTC),
    "recorded_at": datetime(2026, 3, 9, 9, 5, tzinfo=UTC),
    "summary": "ODI 46 → 30: meaningful improvement",
    "data": {"instrument": "odi", "score": 30},
}


def test_a_signed_delivery_verifies_with_the_standard_webhooks_library():
    now = datetime.now(UTC)
    message = signed(SECRET, "msg_1", ITEM, now)
    payload = Webhook(SECRET).verify(message.body, message.headers)
    assert payload["type"] == "feed.item.OutcomeRecorded"
    assert payload["data"]["cursor"] == feed_cursor(42)
    assert message.headers["webhook-timestamp"] == str(int(now.timestamp()))


def test_a_delivery_signed_with_another_secret_or_altered_does_not_verify():
    message = signed(SECRET, "msg_1", ITEM, datetime.now(UTC))
    other = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(message.body, message.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(message.body.replace(b"30", b"31"), message.headers)


def test_a_delivery_signed_long_ago_is_refused_as_a_replay():
    message = signed(SECRET, "msg_1", ITEM, datetime.now(UTC) - timedelta(hours=1))
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(message.body, message.headers)


def test_the_pushed_cursor_is_the_one_the_feed_endpoint_shows():
    assert feed_cursor(42) == encode_cursor(CURSOR, 42)


def test_every_attempt_at_one_item_has_the_same_id_and_each_subscriber_its_own():
    first, second = uuid4(), uuid4()
    assert message_id(first, "e", 3) == message_id(first, "e", 3)
    assert message_id(first, "e", 3) != message_id(first, "e", 4)
    assert message_id(first, "e", 3) != message_id(second, "e", 3)


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        (SECRET, None),
        ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "starts with whsec_"),
        ("whsec_***", "followed by base64"),
        ("whsec_QUJD", "24 to 64 bytes, not 3"),
    ],
)
def test_a_secret_is_whsec_and_base64_of_24_to_64_bytes(secret, problem):
    found = check_secret(secret)
    assert (found is None) if problem is None else (problem in found)


@pytest.mark.parametrize(
    ("url", "dev", "allowed"),
    [
        ("https://ehr.example.org/hooks", False, True),
        ("https://10.1.2.3:8443/hooks", False, True),
        ("http://ehr.example.org/hooks", True, False),
        ("http://127.0.0.1:9000/hooks", False, False),
        ("http://127.0.0.1:9000/hooks", True, True),
        ("http://localhost/hooks", True, True),
        ("http://[::1]:9000/hooks", True, True),
        ("http://127.0.0.1.example.org/hooks", True, False),
        ("https://user:secret@ehr.example.org/hooks", False, False),
        ("https://ehr.example.org:99999/hooks", False, False),
    ],
)
def test_an_endpoint_is_https_or_loopback_http_in_development(url, dev, allowed):
    assert (endpoint_problem(url, allow_loopback_http=dev) is None) is allowed
