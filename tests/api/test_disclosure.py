"""A physician refused an episode is refused before anything of it is read, so a
missing episode and another physician's long one answer alike, at the same cost."""

from __future__ import annotations

from uuid import uuid4

import pytest

from tests.support.http import assert_problem

OTHER = {"id": "dr-x", "name": "Dr X", "role": "concierge"}
URLS = ["/episodes/{id}", "/episodes/{id}/history"]


@pytest.fixture
def nothing_is_read(api, monkeypatch):
    """Fail the request if any of an episode's events is read to answer it
    (commands still load the aggregate they decide on)."""
    episodes = api.client.app.state.container.episodes

    def refuse(*_args, **_kwargs):
        raise AssertionError("an episode was read for a refused caller")

    for name in ("get_episode", "get_episode_as_of", "history", "_records"):
        monkeypatch.setattr(episodes, name, refuse)


@pytest.mark.parametrize("url", URLS)
def test_another_physicians_long_episode_is_refused_without_reading_it(
    api, nothing_is_read, url
):
    theirs = api.open(referrer=OTHER)
    for _ in range(20):
        assert api.command(theirs, "diagnostics").status_code == 201
    response = api.get(url.format(id=theirs), role="physician")
    body = assert_problem(response, 403, "forbidden")
    assert body["detail"] == "your role does not allow this request"


@pytest.mark.parametrize("url", URLS)
def test_a_missing_episode_is_refused_the_same_way(api, nothing_is_read, url):
    response = api.get(url.format(id=uuid4()), role="physician")
    body = assert_problem(response, 403, "forbidden")
    assert body["detail"] == "your role does not allow this request"


def test_a_physician_sees_no_global_position_in_its_patients_history(api):
    mine = api.open()
    api.command(mine, "diagnostics")
    staff = api.get(f"/episodes/{mine}/history").json()["items"]
    physician = api.get(f"/episodes/{mine}/history", role="physician").json()["items"]
    assert all(isinstance(item["position"], int) for item in staff)
    assert [item["position"] for item in physician] == [None, None]
    assert [item["version"] for item in physician] == [1, 2]
