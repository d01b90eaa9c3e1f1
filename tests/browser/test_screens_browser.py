"""The screens in headless Chromium on a demo store: log in by token, use the
worklist by keyboard alone, read it at 200 % zoom, see a new task arrive, open a
timeline with its chart and findings, and see a physician's patients only."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.browser.conftest import ARTEFACTS
from tests.support.http import TOKENS, auth

pytestmark = pytest.mark.browser


def log_in(page, server: str, role: str, path: str = "/ui/") -> None:
    """Log in through the token form, by keyboard."""
    page.goto(f"{server}{path}")
    page.get_by_label("Access token").fill(TOKENS[role])
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/ui/login" not in page.url


def no_horizontal_scroll(page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


def test_a_clinician_logs_in_by_token_and_filters_the_worklist(page, server):
    page.goto(f"{server}/ui/worklist")
    assert "/ui/login" in page.url  # no session yet: the form first
    log_in(page, server, "clinician", "/ui/worklist")
    assert page.url == f"{server}/ui/worklist"
    summary = httpx.get(f"{server}/worklist/summary", headers=auth("clinician"))
    counts = {c["kind"]: c["open"] for c in summary.json()["by_kind"] if c["open"]}
    kind = min(counts)  # a kind the demo store has open tasks of
    page.get_by_label("All tasks").check()
    page.get_by_label("Kind").select_option(kind)
    with page.expect_navigation():
        page.get_by_role("button", name="Apply filters").click()
    assert f"kind={kind}" in page.url
    tasks = page.locator("#task-rows td[data-label='Task']").all_inner_texts()
    assert len(tasks) == min(counts[kind], 50)  # one page at most
    assert all(text.startswith(kind.replace("_", " ")) for text in tasks)


def test_the_worklist_is_usable_by_keyboard_alone(page, server):
    log_in(page, server, "clinician", "/ui/worklist?show=all")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == (
        "Skip to main content"
    )
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # From main, Tab walks the filters in reading order, then the tasks.
    order = []
    for _ in range(6):
        page.keyboard.press("Tab")
        order.append(
            page.evaluate(
                "document.activeElement.id || document.activeElement.textContent.trim()"
            )
        )
    assert order[:5] == ["show-all", "kind", "priority", "overdue", "Apply filters"]
    assert order[5].startswith("task-")  # the first task's patient link
    # The focused link shows a focus ring, and Enter opens the episode.
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != (
        "none"
    )
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/ui/episodes/" in page.url
    assert page.get_by_role("heading", level=1).inner_text().startswith("Episode of")


@pytest.mark.parametrize(
    "path",
    [
        "/ui/worklist?show=all",
        "/ui/audit",
        "/ui/audit/episodes",
        "/ui/physician?physician_id=dr-pc-1",
    ],
)
def test_at_200_percent_zoom_no_screen_scrolls_sideways(chromium, server, path):
    # 200 % zoom of a 1280-pixel window: 640 CSS pixels at twice the density.
    context = chromium.new_context(
        viewport={"width": 640, "height": 800}, device_scale_factor=2
    )
    page = context.new_page()
    try:
        log_in(page, server, "auditor", path)
        assert page.url == f"{server}{path}"
        assert no_horizontal_scroll(page)
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^a-z]+", "-", path.strip("/"))
        page.screenshot(path=str(ARTEFACTS / f"zoom-200-{name}.png"), full_page=True)
        first = page.locator("a[href^='/ui/episodes/']").first
        if first.count():
            with page.expect_navigation():
                first.click()
            assert no_horizontal_scroll(page)
    finally:
        context.close()


def test_the_worklist_shows_a_new_task_without_a_reload(page, server):
    log_in(page, server, "clinician", "/ui/worklist?show=all&kind=red_flag_triage")
    page.evaluate("window.notReloaded = true")
    response = httpx.post(
        f"{server}/episodes",
        json={
            "occurred_at": "2026-03-02T09:00:00+00:00",
            "patient_id": "pat-live-refresh",
            "referrer": {"id": "dr-pc-1", "name": "Dr Primary", "role": "primary_care"},
            "receiving_service": "emergency",
            "reason": "saddle anaesthesia",
            "red_flags": ["cauda_equina"],
        },
        headers=auth("service"),
    )
    assert response.status_code == 201, response.text
    page.locator("#task-rows", has_text="pat-live-refresh").wait_for()
    assert page.evaluate("window.notReloaded") is True
    assert "Updated" in page.locator("#refresh-status").inner_text()


def test_an_episode_timeline_shows_its_chart_and_findings(page, server):
    log_in(page, server, "auditor", "/ui/audit/episodes")
    with page.expect_navigation():
        page.locator("a[href^='/ui/episodes/']").first.click()
    assert page.locator("#findings-heading").is_visible()
    assert page.locator(".findings li").count() >= 1  # flagged episodes only
    assert page.locator("ol.timeline > li").count() >= 2
    # Find an episode of the demo with outcome scores: its chart is drawn as SVG.
    with httpx.Client(base_url=server, headers=auth("auditor")) as api:
        found = api.get(
            "/audit/referral-loops", params={"flagged_only": "false", "limit": 100}
        )
        episodes = [row["episode_id"] for row in found.json()["items"]]
        scored = next(
            e for e in episodes if api.get(f"/episodes/{e}").json()["outcomes"]
        )
    page.goto(f"{server}/ui/episodes/{scored}")
    chart = page.locator("svg.chart").first
    assert chart.is_visible()
    assert chart.locator("circle.point").count() >= 1
    assert chart.get_attribute("role") == "img"
    box = chart.bounding_box()
    assert box and box["width"] > 100 and box["height"] > 30


def test_a_post_without_the_csrf_token_is_refused(page, server):
    log_in(page, server, "clinician", "/ui/worklist")
    status = page.evaluate(
        """fetch('/ui/logout', {method: 'POST', credentials: 'same-origin',
             headers: {'Content-Type': 'application/x-www-form-urlencoded'},
             body: 'csrf_token=forged'}).then(r => r.status)"""
    )
    assert status == 403
    page.reload()
    assert page.url.endswith("/ui/worklist")  # still logged in
    # The page's own form carries the token, and logs out.
    with page.expect_navigation():
        page.get_by_role("button", name="Log out").click()
    assert page.url.endswith("/ui/login")


def test_a_physician_sees_only_its_own_patients(page, server):
    log_in(page, server, "physician")
    assert page.url == f"{server}/ui/physician"
    assert page.get_by_role("heading", level=1).inner_text() == "My feed and patients"
    links = page.locator("#patients a[href^='/ui/episodes/']")
    shown = {
        re.sub(r".*/ui/episodes/", "", href)
        for href in links.evaluate_all("els => els.map(e => e.getAttribute('href'))")
    }
    with httpx.Client(base_url=server, headers=auth("service")) as api:
        own = api.get(
            "/episodes", params={"referrer_id": "dr-pc-1", "limit": 50}
        ).json()
    assert shown == {item["episode_id"] for item in own["items"]}
    assert shown, "the demo store has episodes referred by dr-pc-1"
    # Another physician's episode answers 403, and the audit is not for physicians.
    with httpx.Client(base_url=server, headers=auth("service")) as api:
        other = api.get(
            "/episodes", params={"referrer_id": "dr-pc-2", "limit": 1}
        ).json()
    response = page.goto(f"{server}/ui/episodes/{other['items'][0]['episode_id']}")
    assert response is not None and response.status == 403
    assert page.goto(f"{server}/ui/audit").status == 403
