"""The screens' pure parts: the outcome chart's band and verdicts, the pathway
flow's edges, relative times, and the signing key file."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import SecretStr

from api.ui.chart import Score, band_around, outcome_chart
from api.ui.flow import pathway_flow
from api.ui.render import relative
from api.ui.session import signing_secret
from infra.settings import ConfigurationError, Settings
from projections.clinical.parameters import MCID

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_the_band_uses_the_smaller_of_the_points_and_the_percent():
    # ODI 46: 10 points, or 30 % of 46 = 13.8; 10 is smaller.
    assert band_around(Decimal(46), MCID["odi"]) == (Decimal(36), Decimal(56))
    # NRS 5: 2 points, or 30 % of 5 = 1.5; 1.5 is smaller.
    assert band_around(Decimal(5), MCID["nrs_pain"]) == (Decimal("3.5"), Decimal("6.5"))
    # PROMIS has no percent: 5 T-score points.
    assert band_around(Decimal(60), MCID["promis_pi"]) == (Decimal(55), Decimal(65))


def test_each_score_is_judged_against_the_first_one():
    scores = [
        Score(2, T0 + timedelta(days=1), Decimal(46)),
        Score(3, T0 + timedelta(days=40), Decimal(40)),
        Score(4, T0 + timedelta(days=90), Decimal(30)),
        Score(5, T0 + timedelta(days=120), Decimal(60)),
    ]
    chart = outcome_chart("odi", scores, T0)
    assert [p.verdict for p in chart.points] == [
        "first score",
        "no meaningful change",
        "meaningful improvement",
        "meaningful worsening",
    ]
    assert chart.svg.count("<circle") == 4
    assert 'role="img"' in chart.svg and "<title" in chart.svg


def test_relief_is_judged_against_the_responder_threshold():
    chart = outcome_chart(
        "relief_percent",
        [Score(2, T0, Decimal(80)), Score(3, T0 + timedelta(days=1), Decimal(30))],
        T0,
    )
    assert [p.verdict for p in chart.points] == [
        "responder",
        "below the 50 % responder threshold",
    ]
    assert chart.band is None and 'class="threshold"' in chart.svg


def test_the_flow_counts_each_step_of_each_pathway():
    flow = pathway_flow(
        [
            ["primary_care", "spine_surgery", "pain_medicine", "spine_surgery"],
            ["primary_care", "spine_surgery"],
            ["primary_care", "pain_medicine"],
        ]
    )
    assert [(e.step, e.source, e.target, e.episodes) for e in flow.edges] == [
        (0, "primary_care", "spine_surgery", 2),
        (0, "primary_care", "pain_medicine", 1),
        (1, "spine_surgery", "pain_medicine", 1),
        (2, "pain_medicine", "spine_surgery", 1),
    ]
    assert flow.nodes[(0, "primary_care")] == 3
    assert flow.svg.count('class="edge"') == 4


@pytest.mark.parametrize(
    ("offset", "text"),
    [
        (timedelta(seconds=20), "now"),
        (timedelta(minutes=5), "in 5 min"),
        (-timedelta(hours=3, minutes=10), "3 h ago"),
        (timedelta(days=2, hours=5), "in 2 d"),
    ],
)
def test_times_read_relative_to_now(offset, text):
    assert relative(T0 + offset, T0) == text


def test_without_a_configured_secret_a_key_file_is_made_once_owner_only(tmp_path):
    settings = Settings(ui_session_key_file=tmp_path / "keys" / "ui.key")
    first = signing_secret(settings)
    assert signing_secret(settings) == first and len(first) >= 32
    mode = stat.S_IMODE((tmp_path / "keys" / "ui.key").stat().st_mode)
    assert mode == 0o600


def test_a_key_file_others_may_read_is_refused(tmp_path):
    path = tmp_path / "ui.key"
    path.write_text("a-secret-others-can-read")
    path.chmod(0o644)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        signing_secret(Settings(ui_session_key_file=path))


def test_a_configured_secret_wins(tmp_path):
    settings = Settings(
        ui_session_secret=SecretStr("configured"), ui_session_key_file=tmp_path / "k"
    )
    assert signing_secret(settings) == b"configured"
    assert not (tmp_path / "k").exists()
