"""Which endpoints a subscription may name: HTTPS, or plain HTTP to this machine
when a development setting allows it."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine (localhost, 127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def endpoint_problem(url: str, *, allow_loopback_http: bool) -> str | None:
    """Why `url` may not receive deliveries (None: it may)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a bad port only shows when read)
    except ValueError:
        return "endpoint is not a URL"
    if not parts.hostname:
        return "endpoint names no host"
    if parts.username or parts.password:
        return "endpoint must not carry credentials: the signature authenticates"
    if parts.fragment:
        return "endpoint must not have a fragment"
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and is_loopback(parts.hostname):
        if allow_loopback_http:
            return None
        return (
            "endpoint must be https (plain http to loopback needs "
            "CARE_WEBHOOK_ALLOW_LOOPBACK_HTTP, for development)"
        )
    return "endpoint must be https"
