"""The test proxy rewrites a database URL to reach the server through it."""

from __future__ import annotations

import pytest

from tests.support.proxy import TcpProxy


def test_a_url_is_sent_through_the_proxy_with_or_without_a_port():
    proxy = TcpProxy.to_server_of("postgresql://postgres@127.0.0.1/test")
    try:
        via = f"127.0.0.1:{proxy.port}"
        assert proxy.through("postgresql://postgres@127.0.0.1/test") == (
            f"postgresql://postgres@{via}/test"
        )
        assert proxy.through("postgresql://u:p@127.0.0.1:5432/test?x=1") == (
            f"postgresql://u:p@{via}/test?x=1"
        )
        with pytest.raises(ValueError, match="not this proxy's"):
            proxy.through("postgresql://postgres@127.0.0.1:5433/test")
    finally:
        proxy.close()
