"""A client generated from /openapi.json by a standard generator
(openapi-python-client) builds, and drives one episode: open, record, read back,
and a refusal parsed as the Problem model."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from uuid import uuid4

import pytest

from tests.support import builders as b
from tests.support.http import TOKENS, json_body

pytestmark = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
PACKAGE = "care_episodes_client"
GENERATOR = Path(sys.executable).with_name("openapi-python-client")


def generate(api, where: Path) -> Path:
    """Generate the client package from the served document into `where`."""
    (where / "openapi.json").write_bytes(api.client.get("/openapi.json").content)
    (where / "config.yaml").write_text(
        f"post_hooks: []\nproject_name_override: {PACKAGE}\n"
        f"package_name_override: {PACKAGE}\n"
    )
    subprocess.run(
        [
            str(GENERATOR), "generate", "--meta", "none",
            "--path", str(where / "openapi.json"),
            "--config", str(where / "config.yaml"),
            "--output-path", str(where / PACKAGE),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )  # fmt: skip
    return where


def test_a_generated_client_opens_an_episode_records_and_reads_it_back(
    api, tmp_path, monkeypatch
):
    # given a client generated from the document, talking to the app
    monkeypatch.syspath_prepend(str(generate(api, tmp_path)))
    client_module = importlib.import_module(f"{PACKAGE}.client")
    episodes = f"{PACKAGE}.api.episodes"
    open_episode = importlib.import_module(f"{episodes}.open_episode_episodes_post")
    record = importlib.import_module(
        f"{episodes}.record_diagnostic_episodes_episode_id_diagnostics_post"
    )
    read = importlib.import_module(f"{episodes}.get_episode_episodes_episode_id_get")
    models = importlib.import_module(f"{PACKAGE}.models")
    api.client.headers["Authorization"] = f"Bearer {TOKENS['service']}"
    client = client_module.AuthenticatedClient(
        base_url="http://testserver", token=TOKENS["service"]
    ).set_httpx_client(api.client)

    # when an episode is opened and a diagnostic recorded through it
    opened = open_episode.sync(
        client=client,
        body=models.OpenEpisodeCreate.from_dict(json_body(b.referral(), 0)),
        idempotency_key="client-open-1",
    )
    assert isinstance(opened, models.CommandAccepted), opened
    recorded = record.sync(
        opened.episode_id,
        client=client,
        body=models.RecordDiagnosticCreate.from_dict(json_body(b.mri(), 1)),
        if_match='"1"',
    )
    assert isinstance(recorded, models.CommandAccepted), recorded

    # then it reads the episode back, typed
    episode = read.sync(opened.episode_id, client=client)
    assert isinstance(episode, models.EpisodePublic), episode
    assert (episode.episode_id, episode.version) == (opened.episode_id, 2)
    assert episode.patient_id == "pt-0001"
    assert [d.kind.value for d in episode.diagnostics] == ["mri"]
    # and a refusal comes back as the Problem model
    missing = read.sync(uuid4(), client=client)
    assert isinstance(missing, models.Problem)
    assert (missing.status, missing.type_) == (404, "/problems/episode-not-found")
