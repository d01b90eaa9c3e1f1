"""One webhook delivery: its payload, its stable id, and its Standard Webhooks
signature (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64
HMAC-SHA256 of id.timestamp.body>`), made with the `standardwebhooks` package."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid5

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"
FEED_CURSOR = "feed"


def check_secret(secret: str) -> str | None:
    """Why `secret` is not a usable Standard Webhooks secret (None: it is):
    `whsec_` and the base64 of 24 to 64 random bytes."""
    if not secret.startswith(SECRET_PREFIX):
        return f"a secret starts with {SECRET_PREFIX}"
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        return "a secret is whsec_ followed by base64"
    if not 24 <= len(key) <= 64:
        return f"a secret holds 24 to 64 bytes, not {len(key)}"
    return None


def feed_cursor(seq: int) -> str:
    """The item's cursor as GET /physicians/{id}/feed shows it (api.paging's
    encoding, repeated here because infra does not import api)."""
    return (
        base64.urlsafe_b64encode(f"{FEED_CURSOR}:{seq}".encode()).decode().rstrip("=")
    )


def message_id(subscription_id: UUID, episode_id: str, version: int) -> str:
    """The same id for every attempt at one item, whatever feed generation it is
    read from: receivers drop a repeat by it."""
    return f"msg_{uuid5(subscription_id, f'{episode_id}/{version}').hex}"


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def payload(item: dict[str, Any]) -> dict[str, Any]:
    """The body: the feed item as the feed endpoint shows it, in the Standard
    Webhooks envelope (type, timestamp, data)."""
    data = {
        "cursor": feed_cursor(item["seq"]),
        "episode_id": item["episode_id"],
        "patient_id": item["patient_id"],
        "version": item["version"],
        "type": item["type"],
        "occurred_at": _iso(item["occurred_at"]),
        "recorded_at": _iso(item["recorded_at"]),
        "summary": item["summary"],
        "data": item["data"],
    }
    return {
        "type": f"feed.item.{item['type']}",
        "timestamp": _iso(item["recorded_at"]),
        "data": data,
    }


@dataclass(frozen=True)
class SignedMessage:
    """What is POSTed: the body bytes and the headers that sign it."""

    body: bytes
    headers: dict[str, str]


def signed(
    secret: str, msg_id: str, item: dict[str, Any], now: datetime
) -> SignedMessage:
    """The item's body and its signature headers, signed at `now`."""
    body = json.dumps(payload(item), separators=(",", ":"), ensure_ascii=False)
    moment = now.astimezone(UTC).replace(microsecond=0)
    signature = Webhook(secret).sign(msg_id, moment, body)
    return SignedMessage(
        body.encode(),
        {
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(moment.timestamp())),
            "webhook-signature": signature,
            "content-type": "application/json",
        },
    )
