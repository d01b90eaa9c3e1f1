"""/docs and /redoc load on a network without internet: their pages name no other
host, and every asset they name is served by the app itself."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
ASSET = re.compile(r"""(?:src|href|url)\s*[=:(]\s*['"]([^'"]+)['"]""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_api_browser_names_no_other_host_and_its_assets_load(api, page):
    response = api.client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    # no absolute URL at all: no CDN, no fonts, no validator badge
    assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html, re.I), html
    assets = ASSET.findall(html)
    assert any(a.endswith(".js") for a in assets), assets
    for asset in assets:
        loaded = api.client.get(asset)
        assert loaded.status_code == 200, asset
        assert loaded.content, asset
    assert "/openapi.json" in html


def test_swagger_ui_offers_the_bearer_authorize_button(api):
    document = api.client.get("/openapi.json").json()
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert "persistAuthorization" in api.client.get("/docs").text
