"""Browser tests: Debian's Chromium driven by Playwright against `care-episodes
serve` on a demo store.

Never a browser download: Chromium is the system's (/usr/bin/chromium, from
`apt-get install chromium`). Without it these tests skip, unless
CARE_REQUIRE_BROWSER=1 (as in CI), which makes that an error.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.screens_support import UI_SECRET
from tests.support.http import write_tokens_file
from tests.support.server import ROOT, TEST_KEY_ENV, ServiceProcess

CHROMIUM = os.environ.get("CARE_CHROMIUM", "/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("CARE_REQUIRE_BROWSER") == "1"
# The flags the issue names: headless, no sandbox (root in CI), nothing phoning home.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTEFACTS = ROOT / "var" / "test-artefacts" / "screens"
DEMO_EPISODES = 40


def _missing() -> str | None:
    if not Path(CHROMIUM).exists() and shutil.which(CHROMIUM) is None:
        return f"no Chromium at {CHROMIUM} (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[dev]')"
    return None


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    """One headless Chromium per test process."""
    reason = _missing()
    if reason:
        if REQUIRE_BROWSER:
            pytest.fail(f"{reason} (CARE_REQUIRE_BROWSER=1)")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`care-episodes serve` on a SQLite demo store, its projections in process,
    the worklist refreshing every second."""
    work = tmp_path_factory.mktemp("screens")
    tokens = write_tokens_file(work / "tokens.json")
    env = {
        "CARE_DATABASE_URL": f"sqlite:///{work / 'care.db'}",
        "CARE_AUTH_TOKENS_FILE": str(tokens),
        "CARE_UI_SESSION_SECRET": UI_SECRET,
        "CARE_UI_REFRESH_SECONDS": "1",
        "CARE_PROJECTIONS_IN_PROCESS": "true",
        "CARE_PROJECTION_POLL_INTERVAL": "0.1",
    }
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CARE_")}
    subprocess.run(
        [sys.executable, "-m", "infra.cli", "demo", "--episodes", str(DEMO_EPISODES)],
        cwd=work,
        env={**clean, "PYTHONPATH": str(ROOT), **TEST_KEY_ENV, **env},
        check=True,
        capture_output=True,
    )
    service = ServiceProcess(env, workers=1, cwd=work)
    try:
        service.wait_ready()
        yield service.url
    finally:
        service.stop()


@pytest.fixture
def page(chromium, request: pytest.FixtureRequest) -> Iterator[object]:
    """A fresh browser context (no cookies) and page; a screenshot of where the
    test ended is kept in var/test-artefacts/screens/."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    name = request.node.name.replace("/", "_").replace("[", "-").rstrip("]")
    page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)
    context.close()
