"""Without Chromium the browser tests skip locally, but fail under
CARE_REQUIRE_BROWSER=1, as in CI: a missing browser never passes silently."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.server import ROOT

pytestmark = pytest.mark.browser


def run_without_chromium(require: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CARE_CHROMIUM": "/nonexistent/chromium",
        "CARE_REQUIRE_BROWSER": require,
    }
    return subprocess.run(
        [
            sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "0",
            "-q", "tests/browser/test_screens_browser.py::"
            "test_a_post_without_the_csrf_token_is_refused",
        ],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_a_missing_chromium_is_an_error_when_the_browser_is_required():
    result = run_without_chromium("1")
    assert result.returncode == 1, result.stdout
    assert "no Chromium at /nonexistent/chromium" in result.stdout
    assert "1 error" in result.stdout


def test_a_missing_chromium_skips_when_the_browser_is_not_required():
    result = run_without_chromium("0")
    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout
